"""Run reports: one HTML page for people and one CSV for spreadsheets, written side by side.

Every DAG that changes or reports something calls :func:`write_report`. Reports hold personal data, so
files are created owner-only (0600) inside owner-only directories (0700), HTML is escaped, and CSV
cells a spreadsheet would run as a formula are neutralised. Callers never pass credentials in, so none
can come out.

Where reports go, in order: the ``out_dir`` argument, ``$SENTRAL_REPORTS_DIR/<school>/<kind>/``,
``$AIRFLOW_HOME/reports/<school>/<kind>/``.
"""

from __future__ import annotations

import csv
import html
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

log = logging.getLogger(__name__)

REPORTS_DIR_ENV = "SENTRAL_REPORTS_DIR"

# Leading characters that make Excel, LibreOffice or Google Sheets read a cell as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class ReportFiles:
    """The two files of one report."""

    html: Path
    csv: Path


def write_report(
    *,
    kind: str,
    school: str,
    title: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Mapping[str, object]],
    summary: Mapping[str, object],
    notes: Sequence[str] = (),
    group_by: Sequence[str] = (),
    out_dir: str | os.PathLike[str] | None = None,
    stamp: str | None = None,
    generated_at: datetime | None = None,
) -> ReportFiles:
    """Write a run report as HTML and CSV and return both paths.

    :param kind: what the report is about, e.g. ``"preflight"`` or ``"sync"``; a folder name.
    :param school: the school key (folder name under ``include/mappings/``).
    :param title: the page heading.
    :param columns: ordered ``(key, heading)`` pairs; ``key`` selects the value from each row.
    :param rows: one mapping per line of the report (one per student, per gap, ...).
    :param summary: counts or short labels shown at the top, in the order given.
    :param notes: sentences shown under the summary (what was checked, what to do next).
    :param group_by: row keys whose change starts a new section of the HTML page, outermost first;
        the rows must already be sorted by them. The CSV stays flat, with every column.
    :param out_dir: the directory to write to, instead of the default described in the module.
    :param stamp: what names the files (a run id or an interval); made safe for a file name.
        Defaults to the current UTC time.
    :param generated_at: the moment the page says it was made; defaults to now (UTC).
    """
    rows = [dict(row) for row in rows]
    generated_at = generated_at or datetime.now(UTC)
    directory = _report_dir(kind, school, out_dir)
    stem = safe_stem(stamp or generated_at.strftime("%Y%m%dT%H%M%SZ"))

    page = render_html(
        kind=kind,
        school=school,
        title=title,
        columns=columns,
        rows=rows,
        summary=summary,
        notes=notes,
        group_by=group_by,
        generated_at=generated_at,
    )
    files = ReportFiles(html=directory / f"{stem}.html", csv=directory / f"{stem}.csv")
    _write_private(files.csv, render_csv(columns, rows).encode("utf-8-sig"))
    _write_private(files.html, page.encode("utf-8"))
    log.info("%s report for %s written: %s (%s rows)", kind, school, files.html, len(rows))
    return files


def safe_stem(stamp: str) -> str:
    """``stamp`` reduced to characters that are safe in a file name on every platform."""
    stem = _UNSAFE_NAME.sub("_", stamp).strip("._")
    return stem[:120] or "report"


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would otherwise treat it as a formula."""
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def cell_text(value: object) -> str:
    """How one value reads in a report cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return "; ".join(cell_text(item) for item in value)
    return str(value)


def render_csv(columns: Sequence[tuple[str, str]], rows: Iterable[Mapping[str, object]]) -> str:
    """The CSV text of a report: a heading line, then one line per row, formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(heading) for _key, heading in columns])
    for row in rows:
        writer.writerow([_csv_cell(row.get(key)) for key, _heading in columns])
    return buffer.getvalue()


def _csv_cell(value: object) -> str:
    # Real numbers are data, not formulas: -3 stays a number a spreadsheet can sum.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return neutralise(cell_text(value))


def render_html(
    *,
    kind: str,
    school: str,
    title: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Mapping[str, object]],
    summary: Mapping[str, object],
    notes: Sequence[str],
    group_by: Sequence[str],
    generated_at: datetime,
) -> str:
    """The HTML page of a report; every value from the caller is escaped."""
    esc = _escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # No scripts, no remote content: the page only ever shows its own text.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>{esc(title)} · {esc(school)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">School <strong>{esc(school)}</strong> · {esc(kind)} report · '
        f"generated {esc(generated_at.isoformat(timespec='seconds'))}</p>",
    ]
    parts.append(_summary_html(summary))
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{esc(note)}</li>" for note in notes) + "</ul>")
    parts.append(_body_html(columns, rows, group_by))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _escape(value: object) -> str:
    return html.escape(cell_text(value), quote=True)


def _summary_html(summary: Mapping[str, object]) -> str:
    if not summary:
        return ""
    items = "".join(
        f"<div><dt>{_escape(label)}</dt><dd>{_escape(value)}</dd></div>" for label, value in summary.items()
    )
    return f'<dl class="summary">{items}</dl>'


def _body_html(
    columns: Sequence[tuple[str, str]], rows: Sequence[Mapping[str, object]], group_by: Sequence[str]
) -> str:
    if not rows:
        return '<p class="empty">Nothing to report.</p>'
    headings = dict(columns)
    shown = [(key, heading) for key, heading in columns if key not in group_by]
    parts: list[str] = []
    current: tuple[object, ...] | None = None
    table_open = False
    for row in rows:
        group = tuple(row.get(key) for key in group_by)
        if group != current:
            if table_open:
                parts.append("</tbody></table>")
            parts.extend(_group_headings(group_by, headings, group, current))
            parts.append(_table_head(shown))
            table_open = True
            current = group
        cells = "".join(f"<td>{_escape(row.get(key))}</td>" for key, _heading in shown)
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def _group_headings(
    group_by: Sequence[str],
    headings: Mapping[str, str],
    group: tuple[object, ...],
    previous: tuple[object, ...] | None,
) -> list[str]:
    # Only the levels from the first changed key down get a new heading; outer ones still hold.
    out = []
    changed = False
    for depth, key in enumerate(group_by):
        changed = changed or previous is None or group[depth] != previous[depth]
        if changed:
            level = min(2 + depth, 6)
            label = headings.get(key, key)
            out.append(f"<h{level}>{_escape(label)}: {_escape(group[depth]) or '—'}</h{level}>")
    return out


def _table_head(columns: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f'<th scope="col">{_escape(heading)}</th>' for _key, heading in columns)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#111}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:1.6rem}h3{font-size:1rem}
.meta{color:#555;margin-top:0}
.summary{display:flex;flex-wrap:wrap;gap:.6rem 1.6rem;margin:1rem 0;padding:0}
.summary div{border:1px solid #ccc;border-radius:4px;padding:.4rem .8rem}
.summary dt{font-size:.8rem;color:#555}.summary dd{margin:0;font-size:1.2rem;font-weight:600}
.notes{margin:1rem 0}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}tr:nth-child(even) td{background:#fafafa}
.empty{font-style:italic}
@media print{body{margin:0}thead{display:table-header-group}tr{page-break-inside:avoid}
tr:nth-child(even) td{background:none}}
"""


def _report_dir(kind: str, school: str, out_dir: str | os.PathLike[str] | None) -> Path:
    if out_dir is not None:
        return _private_dir(Path(out_dir))
    for label, segment in (("school", school), ("kind", kind)):
        if not _SEGMENT.match(segment):
            raise ValueError(f"report {label} {segment!r} is not a plain folder name")
    configured = os.environ.get(REPORTS_DIR_ENV)
    if configured:
        root = Path(configured)
    else:
        root = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "reports"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return _private_dir(_private_dir(root / school) / kind)


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for a folder that already exists.
    os.chmod(path, 0o700)
    return path


def _write_private(path: Path, content: bytes) -> None:
    # Written beside the target and renamed over it, so a reader never sees half a report.
    # mkstemp creates the file 0600 whatever the umask.
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
