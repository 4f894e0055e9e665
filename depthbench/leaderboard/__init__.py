"""The leaderboard: a store of result JSON files (measured and paper-reported), tables in the
layout of the papers (Markdown, LaTeX, CSV, HTML) and a static offline site with plots and
qualitative galleries.

- ``store``: file, validate and load results under ``leaderboard/results/<group>/``;
- ``tables``: build comparison tables (Eigen, quality, zero-shot) and render them;
- ``site``: write ``leaderboard/site/`` (index + one page per group, inline JS/CSS/SVG);
- ``visuals``: PNG visualisations written by ``depthbench evaluate --save-visuals``.
"""
