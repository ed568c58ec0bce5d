"""The A/B human study: design (pairs, counter-balanced orders), storage, analysis.

``tfqa study create|export|analyze`` and the study pages of the service are thin shells
over :mod:`.design`, :mod:`.store` and :mod:`.analysis`.
"""
