"""How well a model hears: error rates, manifest evaluation beside peer engines, teacher pseudo-labels."""
