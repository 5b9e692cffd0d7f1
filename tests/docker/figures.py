"""The tier's measured figures, printed at the end of the run.

A module of its own, so that the fixtures in conftest.py and the tests, which
import it under different names, fill one and the same table.
"""

FIGURES: dict[str, float] = {}
