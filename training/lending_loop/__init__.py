"""The lending loop measured against the synthetic truth: metrics on through-the-door applicants, and the report.

`measure` scores a model on a TTD set against the oracle `true_pd` (rejects included) and states the policy
result a lender acts on; `report` renders a loop's comparison as HTML and JSON. The runs themselves (floor,
methods, ceiling, exploration, generations) are in `thinfile.training.loop`.
"""
