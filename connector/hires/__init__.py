"""New hires from Lever: a pre-start People record before day one.

A `lever-hires` integration hears of hires two ways: Lever's signed webhooks (`signature`,
stored and processed as tasks by `events`) and polling of hired opportunities on the
integration's schedule (`poll`). Either way a hire is read the same way (`record`: the
opportunity, its latest signed offer and its posting), mapped with the integration's mapping,
given a work email from its email format (`email`) and written as a person keyed by the
opportunity (`apply`). `lifecycle` makes a pre-start person active on the start date.
"""
