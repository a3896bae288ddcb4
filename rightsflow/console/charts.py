"""A server-rendered SVG bar chart: readable without JavaScript, with a text alternative."""

from __future__ import annotations

from markupsafe import Markup, escape

COLOURS = ("#1d70b8", "#00703c", "#f47738")  # GOV.UK blue, green, orange


def bar_chart(
    data: list[tuple[str, list[int]]], series: tuple[str, ...], *, title: str, height: int = 220
) -> Markup:
    """Grouped bars, one group per label; ``series`` names each value in a group."""
    if not data:
        return Markup("")
    group_w, bar_w, left, top, bottom = 30 + 22 * len(series), 20, 40, 30, 40
    width = left + group_w * len(data) + 20
    peak = max(1, *(v for _, values in data for v in values))
    plot_h = height - top - bottom
    parts = [
        f'<svg class="rf-chart" role="img" aria-labelledby="chart-title" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#0b0c0c"/>',
        f'<text x="{left - 6}" y="{top + 5}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, (label, values) in enumerate(data):
        x0 = left + 10 + i * group_w
        for j, v in enumerate(values):
            h = round(plot_h * v / peak)
            x = x0 + j * (bar_w + 2)
            parts.append(
                f'<rect x="{x}" y="{top + plot_h - h}" width="{bar_w}" height="{h}" fill="{COLOURS[j % 3]}">'
                f"<title>{escape(series[j])}, {escape(label)}: {v}</title></rect>"
            )
        parts.append(f'<text x="{x0}" y="{top + plot_h + 18}">{escape(label)}</text>')
    for j, name in enumerate(series):
        x = left + j * 110
        parts.append(f'<rect x="{x}" y="4" width="14" height="14" fill="{COLOURS[j % 3]}"/>')
        parts.append(f'<text x="{x + 20}" y="16">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
