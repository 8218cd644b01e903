"""The cloud service: ingest (verify, dedupe, store) → alarms → API and web console.

Stages, one package each: ``ingest`` (MQTT subscriber, envelope opening, chain checks),
``store`` (SQLite by default), ``alarms`` (rules and lifecycle), ``api`` (FastAPI + console).
``broker`` runs the embedded MQTT broker (amqtt) for set-ups without Mosquitto or EMQX.
"""
