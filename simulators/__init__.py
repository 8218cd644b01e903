"""Device simulators: Modbus TCP and Modbus RTU over a pseudo-terminal, driven by the profiles.

Vendors use them to check register maps; the tests and the demo use them as the field. Each
simulated device records what it served (``served.jsonl``) so a test can reconcile, reading by
reading, what the devices served against what the cloud stored.
"""
