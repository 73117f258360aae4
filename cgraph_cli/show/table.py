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


# The width of the terminal the table goes to (the command line sets it when stdout is one, or
# $COLUMNS says): a table wider than that is narrowed, never left for the terminal to wrap, which
# would split numbers across lines. None: as wide as the table is (a pipe, a file).
WIDTH: int | None = None

GAP = 3  # the spaces between two columns
NARROWEST = 12  # a column that wraps its text (labels, operand lists) is not made narrower than this


class Table:
    """Columns and rows of text; drawn by rich, or plainly in the same layout when large.

    Numbers are never wrapped. A table wider than WIDTH is narrowed: first the columns that may wrap
    (`give="wrap"`: labels, operand lists; "fold": names, which wrap but stay) wrap their text, down
    to NARROWEST; then the columns that may go (`give="drop"`, and "wrap") are left out, rightmost
    first, with a note saying so.
    """

    def __init__(self):
        # (header, justify as rich takes it, style, give: None, "wrap", "fold" or "drop")
        self.columns: list[tuple[str, Any, str | None, str | None]] = []
        self.rows: list[list[str]] = []
        self.widths: dict[int, int] = {}  # a wrapping column's width, where it must wrap

    def column(self, header: str, justify: str = "left", style: str | None = None, give: str | None = None) -> None:
        self.columns.append((header, justify, style, give))

    def _fit(self) -> str | None:
        """Narrow the table to WIDTH (see the class); the note that says what was left out, if any."""
        from rich.cells import cell_len

        if WIDTH is None or not self.columns:
            return None
        natural = [cell_len(h) for h, _, _, _ in self.columns]
        for row in self.rows:
            if isinstance(row, list):
                for k, text in enumerate(row):
                    natural[k] = max(natural[k], max(map(cell_len, text.split("\n")), default=0))
        keep = list(range(len(self.columns)))
        givers = [k for k in keep if self.columns[k][3] in ("wrap", "drop")]
        while True:  # wrap what may wrap, rightmost first; if that is not enough, leave out the rightmost that may go
            widths = {k: natural[k] for k in keep}
            for k in reversed(keep):
                excess = sum(widths.values()) + GAP * (len(keep) - 1) - WIDTH
                if excess > 0 and self.columns[k][3] in ("wrap", "fold") and widths[k] > NARROWEST:
                    widths[k] = max(NARROWEST, widths[k] - excess)
            if sum(widths.values()) + GAP * (len(keep) - 1) <= WIDTH or not givers:
                break
            keep.remove(givers.pop())
        dropped = [k for k in range(len(self.columns)) if k not in keep]
        wrapped = {k: width for k, width in widths.items() if width < natural[k]}
        headers = [self.columns[k][0] for k in sorted(dropped)]
        self.columns = [self.columns[k] for k in keep]
        self.rows = [[row[k] for k in keep] if isinstance(row, list) else row for row in self.rows]
        self.widths = {keep.index(k): width for k, width in wrapped.items()}
        if not headers:
            return None
        return (
            f"({', '.join(headers)} left out to fit {WIDTH} columns; a wider terminal, "
            "| cat, or --json shows every column)"
        )

    def draw(self, headline: str | None, color: bool, all_rows: bool = False, total: int | None = None) -> str:
        """The table; past RICH_MAX_ROWS rows, its first and last SUMMARY_ROWS unless `all_rows`.
        `total`: the table has this many rows, of which `rows` holds just those ends (summary_rows)."""
        note = self._fit()
        text = self._draw(headline, color, all_rows, total)
        return text if note is None else f"{text}\n{note}"

    def _draw(self, headline: str | None, color: bool, all_rows: bool, total: int | None) -> str:
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
        for k, (header, justify, style, _) in enumerate(self.columns):
            if k in self.widths:  # a label or operand list wraps (at spaces where it can), never a number
                table.add_column(header, justify=justify, style=style, max_width=self.widths[k], overflow="fold")
            else:
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

        rows = [  # (a column that must wrap is shortened instead, in the plain layout)
            [shorten(t, self.widths[k]) if k in self.widths else t for k, t in enumerate(row)]
            if isinstance(row, list)
            else row
            for row in rows
        ]
        widths = [cell_len(h) for h, _, _, _ in self.columns]
        for row in rows:
            if isinstance(row, list):
                for i, text in enumerate(row):
                    widths[i] = max(widths[i], cell_len(text))

        def line(cells, styles):
            parts = []
            for text, (_, justify, _, _), w, style in zip(cells, self.columns, widths, styles):
                pad = " " * (w - cell_len(text))
                text = pad + text if justify == "right" else text + pad
                parts.append(f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if color and style and text.strip() else text)
            return "   ".join(parts).rstrip()

        out = [] if headline is None else [f"\x1b[1m{headline}\x1b[0m" if color else headline]
        out.append(line([h for h, _, _, _ in self.columns], ["bold"] * len(widths)))
        out.append("─" * (sum(widths) + 3 * (len(widths) - 1)))
        styles = [s for _, _, s, _ in self.columns]
        out.extend(line(row, styles) if isinstance(row, list) else row for row in rows)
        return "\n".join(out)
