"""The rtu-gateway: field RTUs (SZY 206-2016, SL 651-2014) in, signed envelopes out.

It is a gateway in the system's own sense, hosted beside the cloud: RTUs keep their long TCP
connections to it, and their readings enter the same ingest path as any edge gateway's
(verification, dedupe, rates, alarms) because they arrive the same way: durable buffer first,
then sealed (SM3 chain, SM2 signature) and published over MQTT with QoS 1::

    RTU ──TCP──► framing ──► codec ──► mapping ──► gateway per protocol ──MQTT──► cloud ingest
                 (stream)    (decode)  (address →  buffer (commit) → ACK to the RTU
                                        station)   seal → uplink (marked sent on PUBACK)

Modules: ``mapping`` (report → readings), ``server`` (connections, replies), ``admission`` (who
may report as a station: address, SL 651 password, allow-list; the sample-time window),
``connections`` (caps in total and per address, the oldest idle dropped), ``quiet`` (logs once a
minute per key), ``protocol_gateway`` (buffer, sealing, uplink per protocol), ``config``
(rtu.yaml), ``service`` (wiring, stop); the framing is ``watertel.protocols.framing``. It reuses the edge agent's buffer and uplink,
which import neither pymodbus nor pyserial.
"""
