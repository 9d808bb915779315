"""The pages that read several apps: the start page, the coverage dashboard, the onboarding
checklist, Driftsstatus and /healthz, with the reads behind them.

It sits above the domain apps: it may import `deliveries` and `routes` (and the generic
`flisportal` apps below them); nothing below imports it. No models of its own, so it is not an
installed app; its templates are `templates/front/`.
"""
