"""TFLite flatbuffer support: schema constants, writer (and the reader)."""
