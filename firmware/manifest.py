# Freeze the node application into a MicroPython firmware image:
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/firmware/manifest.py
# (or `ember flash`, which copies the .mpy files instead of freezing).
include("$(PORT_DIR)/boards/manifest.py")
package("sensors", base_path="src")
package("boards", base_path="src")
for m in ("compat", "filters", "ring", "mqtt", "link", "config", "node", "app", "secure"):
    module(m + ".py", base_path="src")
