"""Leaders' dashboard and reports: figures for a period, drill-down lists, bottlenecks, rankings, reports.

No Flask here. Figures are SQL aggregations over the petition projection (`petition` row: received date,
first answer and its due date, closing, rating, reopenings, authority flag, result type) and, for the
bottleneck view, over the human-task rows; the history generator writes both in bulk.
"""
