"""Sensor drivers. Each sensor has ``names`` (its channel names) and either
``read()`` -> tuple of floats in ``names`` order (scalar sensors) or
``burst(buf)`` filling an ``array('f')`` with consecutive samples (vibration).
A failed reading is NaN, which the filter chain drops."""
