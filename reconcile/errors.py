"""Errors a data officer can act on: each names the file and what to do."""

from __future__ import annotations

# The README section on input files (a heading of README.md), named in the fixes.
README = 'README.md, "Reading real exports"'


class InputError(Exception):
    """An input file cannot be used as given. The message names the file (and the sheet,
    row and column where it applies), what is wrong and the fix; `indonesian` says the
    same for the officer in Bahasa Indonesia (the command prints both)."""

    def __init__(self, message: str, indonesian: str | None = None) -> None:
        super().__init__(message)
        self.indonesian = indonesian

    def __reduce__(self):  # pickled (Prefect states, Dask) with its Indonesian text
        return type(self), (str(self), self.indonesian)


def where(label: str, row: int | None = None, column: str | None = None) -> tuple[str, str]:
    """Where a problem is, in English and Indonesian: file, sheet ('file.xlsx#PKH'), row
    and column, as far as they are known.

    >>> where("k.xlsx#PKH", 4, "NIK")
    ('k.xlsx, sheet PKH, row 4, column NIK', 'k.xlsx, lembar PKH, baris 4, kolom NIK')
    """
    file, _, sheet = label.partition("#")
    parts = [(file, file)]
    if sheet:
        parts.append((f"sheet {sheet}", f"lembar {sheet}"))
    if row is not None:
        parts.append((f"row {row}", f"baris {row}"))
    if column is not None:
        parts.append((f"column {column}", f"kolom {column}"))
    return ", ".join(en for en, _ in parts), ", ".join(id_ for _, id_ in parts)


class RunRefused(Exception):
    """The run cannot start (another run holds the output folder, bad parameters)."""


def refusal_text(error: BaseException) -> str:
    """A refusal as the command prints it: one block, English then Indonesian (a refusal
    without Indonesian text yet is its English alone).

    >>> print(refusal_text(InputError("a.csv: the file is empty. Fix: export it again",
    ...                               "a.csv: berkas kosong. Perbaiki: ekspor ulang")))
    reconcile: a.csv: the file is empty. Fix: export it again
      ID: a.csv: berkas kosong. Perbaiki: ekspor ulang
    """
    english = str(error).strip().splitlines() or [""]
    lines = [f"reconcile: {english[0]}", *(f"  {line.strip()}" for line in english[1:])]
    indonesian = (getattr(error, "indonesian", None) or "").strip().splitlines()
    if indonesian:
        lines += [f"  ID: {indonesian[0]}", *(f"      {line.strip()}" for line in indonesian[1:])]
    return "\n".join(lines)
