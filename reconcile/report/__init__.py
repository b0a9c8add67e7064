"""The officers' reports: report.html (offline, charts as inline SVG) and report.xlsx.

Both read the run's `discrepancies`, `region_summary` and `reconciled` tables and show
no names and no full NIKs.
"""

from reconcile.report.html import write_report_html
from reconcile.report.xlsx import write_report_xlsx

__all__ = ["write_report_html", "write_report_xlsx"]
