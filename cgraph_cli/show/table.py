"""Tables for people: rich when it is installed for a terminal, plain text otherwise; bounded whatever the graph holds.

Long cells are shortened in the middle, and past a few thousand rows only
the first and last are shown. rich is imported only inside, so `--json`
never pays for it.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import printable, shorten

# rich spends about 0.3 ms a row; past this many rows we lay the table out ourselves, in
# the same columns, and show only the first and last rows unless every row is asked for.
RICH_MAX_ROWS = 2000

SUMMARY_ROWS = 50  # shown at each end of a summarized table

CELL_WIDTH = 60  # a longer name or operand list is shortened in the middle

_STYLES = {"bold": "1", "green": "32", "red": "31", "dim": "2"}  # as ANSI codes, for the plain layout


def cell(text: str, most: int = CELL_WIDTH) -> str:
    """Text fit for a table cell: nothing that steers the terminal, and bounded in width."""
    return shorten(printable(text), most)


def operand_list(operands) -> str:
    """'a, b, c', or for a long list 'x1, x2, x3, … (997 more)'."""
    texts = [o if isinstance(o, str) else repr(o) for o in operands[:4]]
    if len(operands) > 4:
        texts = texts[:3] + [f"… ({len(operands) - 3:,} more)"]
    return ", ".join(texts)


def summary_rows(total: int, all_rows: bool):
    """The rows a table of `total` rows shows (all, or its two ends): to format only those."""
    if total <= RICH_MAX_ROWS or all_rows:
        return range(total)
    return [*range(SUMMARY_ROWS), *range(total - SUMMARY_ROWS, total)]


class Table:
    """Columns and rows of text; drawn by rich, or plainly in the same layout when large."""

    def __init__(self):
        self.columns: list[tuple[str, Any, str | None]] = []  # (header, justify as rich takes it, style)
        self.rows: list[list[str]] = []

    def column(self, header: str, justify: str = "left", style: str | None = None) -> None:
        self.columns.append((header, justify, style))

    def draw(self, headline: str | None, color: bool, all_rows: bool = False, total: int | None = None) -> str:
        """The table; past RICH_MAX_ROWS rows, its first and last SUMMARY_ROWS unless `all_rows`.
        `total`: the table has this many rows, of which `rows` holds just those ends (summary_rows)."""
        total = len(self.rows) if total is None else total
        if total <= RICH_MAX_ROWS:
            return self._draw_rich(headline, color)
        if all_rows:
            return self._draw_plain(headline, color, self.rows)
        note = f"… {total - 2 * SUMMARY_ROWS:,} more rows (--all prints every row) …"
        return self._draw_plain(headline, color, self.rows[:SUMMARY_ROWS] + [note] + self.rows[-SUMMARY_ROWS:])

    def _draw_rich(self, headline, color) -> str:
        from io import StringIO

        from rich import box
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for header, justify, style in self.columns:
            table.add_column(header, justify=justify, style=style, no_wrap=True)
        # Never narrower than the table's natural width: a narrow terminal wraps the long
        # lines itself, where rich would squeeze columns and crop digits and labels.
        console = Console(
            file=(text := StringIO()),
            force_terminal=color,
            no_color=not color,
            color_system="standard" if color else None,
            width=100_000,
            highlight=False,
            emoji=False,
            markup=False,
            soft_wrap=False,
        )
        for row in self.rows:
            table.add_row(*row)
        if headline is not None:
            console.print(Text(headline, style="bold"))
        console.print(table)
        return "\n".join(line.rstrip() for line in text.getvalue().splitlines())

    def _draw_plain(self, headline, color, rows) -> str:
        from rich.cells import cell_len

        widths = [cell_len(h) for h, _, _ in self.columns]
        for row in rows:
            if isinstance(row, list):
                for i, text in enumerate(row):
                    widths[i] = max(widths[i], cell_len(text))

        def line(cells, styles):
            parts = []
            for text, (_, justify, _), w, style in zip(cells, self.columns, widths, styles):
                pad = " " * (w - cell_len(text))
                text = pad + text if justify == "right" else text + pad
                parts.append(f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if color and style and text.strip() else text)
            return "   ".join(parts).rstrip()

        out = [] if headline is None else [f"\x1b[1m{headline}\x1b[0m" if color else headline]
        out.append(line([h for h, _, _ in self.columns], ["bold"] * len(widths)))
        out.append("─" * (sum(widths) + 3 * (len(widths) - 1)))
        styles = [s for _, _, s in self.columns]
        out.extend(line(row, styles) if isinstance(row, list) else row for row in rows)
        return "\n".join(out)
