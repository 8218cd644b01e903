"""The gateway program: poll → decode → durable buffer → seal → MQTT uplink.

Stages, one package or module each: ``poll`` (bus scheduler, Modbus clients, decoding),
``buffer`` (SQLite WAL, survives power cuts), ``uplink`` (MQTT, QoS 1), ``agent`` (wiring).
"""
