"""The review loop: queue, workbooks, decisions."""
