"""Clustering Kemensos rows into persons without chaining.

Plain connected components chain: A~B and B~C puts A and C together even when A and C
are twins. Here edges are merged strongest first (union-find), and a merge is refused
when the two groups are clearly different people:

* they are linked to different register individuals (`anchor`);
* they hold their own valid NIKs (agreeing with their birth dates) with different
  birth-date parts (`nik_date`);
* a pair across them is a cannot-link pair (twins: same KK and birth date, other name).

With no constraints this is exactly connected components (tested against networkx).
The loop runs over the dedupe edges that touch an unlinked row, which are few.
"""

from __future__ import annotations

import numpy as np


class _Groups:
    """Union-find with per-group attributes for the constraint checks."""

    def __init__(self, anchor: np.ndarray, nik_date: np.ndarray):
        n = len(anchor)
        self.parent = np.arange(n)
        self.anchor = {i: int(a) for i, a in enumerate(anchor) if a >= 0}
        self.dates = {i: {d} for i, d in enumerate(nik_date) if d is not None}
        self.members = {i: {i} for i in range(n)}

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return int(root)

    def can_merge(self, a: int, b: int, cannot: dict[int, set[int]]) -> bool:
        anchors = {self.anchor.get(a), self.anchor.get(b)} - {None}
        dates = self.dates.get(a, set()) | self.dates.get(b, set())
        if len(anchors) > 1 or len(dates) > 1:
            return False
        small, large = sorted((self.members[a], self.members[b]), key=len)
        return not any(cannot.get(x, set()) & large for x in small)

    def union(self, a: int, b: int) -> None:
        if len(self.members[a]) < len(self.members[b]):
            a, b = b, a
        self.parent[b] = a
        self.members[a] |= self.members.pop(b)
        if b in self.anchor:
            self.anchor[a] = self.anchor.pop(b)
        if b in self.dates:
            self.dates.setdefault(a, set()).update(self.dates.pop(b))


def constrained_components(edges_l: np.ndarray, edges_r: np.ndarray, n: int,
                           anchor: np.ndarray | None = None,
                           nik_date: np.ndarray | None = None,
                           cannot_l: np.ndarray | None = None,
                           cannot_r: np.ndarray | None = None,
                           forced: int = 0) -> np.ndarray:
    """Label rows 0..n-1 by group (the smallest row index in it).

    Args:
        edges_l, edges_r: row indices of the edges, strongest first.
        n: number of rows.
        anchor: register individual per row (-1 when unlinked). Groups with different
            anchors never merge; the caller joins groups sharing an anchor.
        nik_date: birth-date part of a valid NIK per row, or None.
        cannot_l, cannot_r: pairs of rows that must never share a group.
        forced: the first `forced` edges are merged whatever the constraints (an
            officer's decision that two rows are one person overrides the model).

    Examples:
        >>> constrained_components(np.array([0, 1]), np.array([1, 2]), 4).tolist()
        [0, 0, 0, 3]
        >>> constrained_components(np.array([0, 1]), np.array([1, 2]), 3,
        ...                        cannot_l=np.array([0]), cannot_r=np.array([2])).tolist()
        [0, 0, 2]
    """
    anchor = np.full(n, -1) if anchor is None else anchor
    nik_date = np.full(n, None, dtype=object) if nik_date is None else nik_date
    cannot: dict[int, set[int]] = {}
    for a, b in zip(*(np.array([], int) if c is None else c for c in (cannot_l, cannot_r)),
                    strict=True):
        cannot.setdefault(int(a), set()).add(int(b))
        cannot.setdefault(int(b), set()).add(int(a))
    groups = _Groups(anchor, nik_date)
    for i, (a, b) in enumerate(zip(edges_l.tolist(), edges_r.tolist(), strict=True)):
        ra, rb = groups.find(a), groups.find(b)
        if ra != rb and (i < forced or groups.can_merge(ra, rb, cannot)):
            groups.union(ra, rb)
    roots = groups.parent
    while not np.array_equal(roots, roots[roots]):  # pointer jumping, no per-row loop
        roots = roots[roots]
    # Label by the smallest member so that labels do not depend on merge order.
    return _smallest_member(roots)


def _smallest_member(roots: np.ndarray) -> np.ndarray:
    order = np.argsort(roots, kind="stable")
    first = np.full(roots.max() + 1 if len(roots) else 0, -1)
    uniq, idx = np.unique(roots[order], return_index=True)
    first[uniq] = order[idx]
    return first[roots]
