"""The rtu-gateway: field RTUs (SZY 206-2016, SL 651-2014) in, signed envelopes out.

It is a gateway in the system's own sense, hosted beside the cloud: RTUs keep their long TCP
connections to it, and their readings enter the same ingest path as any edge gateway's
(verification, dedupe, rates, alarms) because they arrive the same way: durable buffer first,
then sealed (SM3 chain, SM2 signature) and published over MQTT with QoS 1::

    RTU ──TCP──► framing ──► codec ──► mapping ──► gateway per protocol ──MQTT──► cloud ingest
                 (stream)    (decode)  (address →  buffer (commit) → ACK to the RTU
                                        station)   seal → uplink (marked sent on PUBACK)

Modules: ``framing`` (frames out of a byte stream), ``mapping`` (report → readings),
``server`` (connections, replies), ``protocol_gateway`` (buffer, sealing, uplink per protocol),
``config`` (rtu.yaml), ``service`` (wiring, stop). It reuses the edge agent's buffer and uplink,
which import neither pymodbus nor pyserial.
"""
