"""Events, presence and Home Assistant discovery over MQTT (paho-mqtt; its network thread
reconnects with a pause growing from 1 s to 30 s, and keeps at most QUEUE messages while the
broker is away).

Topics, under the URL's prefix (default "facecam"):
    PREFIX/status               online / offline (retained; the last will says offline)
    PREFIX/events               every event as JSON (arrived, left, unknown, test)
    PREFIX/presence/NAME        home / not_home (retained): present on any source or not
    PREFIX/presence/NAME/attributes   JSON: source, since, last seen, score (retained)
    PREFIX/unknown/SOURCE       the last stranger's face, JPEG (retained; with snapshots)
Home Assistant discovery (under "homeassistant/" unless told otherwise): a presence binary
sensor per enrolled person, and with snapshots an image entity per source ("last unknown at
SOURCE", announced with its first stranger), all on one device named after the prefix; entities of people no longer enrolled are
removed (their retained configurations are looked for at every connection).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..errors import NotifyError, UsageError
from ..validate import hide_password
from ..version import __version__
from ..words import counted


@dataclass
class Broker:
    host: str
    port: int
    tls: bool
    user: str | None
    password: str | None
    prefix: str

    @property
    def shown(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_url(url: str) -> Broker:
    """mqtt://[user:password@]host[:port][/prefix], mqtts:// for TLS (port 8883 by default)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise UsageError(f"{hide_password(url)}: expected mqtt://[user:password@]host[:port][/prefix] "
                         "(mqtts:// for TLS)", param="mqtt")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise UsageError(f"{hide_password(url)}: the port is not a number from 0 to 65535", param="mqtt") from None
    prefix = parts.path.strip("/") or "facecam"
    if any(c in prefix for c in "+#\0") or "//" in prefix:
        raise UsageError(f"the topic prefix {prefix!r} may not hold +, # or empty levels", param="mqtt")
    return Broker(parts.hostname, port, parts.scheme == "mqtts", unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None, prefix)


def _client(broker: Broker, ca: str | None, client_id: str):
    """A paho client with the broker's credentials and, for mqtts://, TLS (checked against `ca`)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if broker.user is not None:
        client.username_pw_set(broker.user, broker.password)
    if broker.tls:
        try:
            client.tls_set(ca_certs=ca)
        except (OSError, ValueError) as err:
            raise UsageError(f"{ca}: cannot use it ({err})", param="mqtt_ca") from None
    return client


def topic_level(text: str) -> str:
    """A name as one topic level: MQTT's separators and wildcards replaced."""
    return re.sub(r"[/+#\x00-\x1f]", "_", text) or "_"


def object_id(kind: str, text: str) -> str:
    """An id Home Assistant accepts ([a-zA-Z0-9_-]), readable and unique per name."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]
    return f"{kind}_{slug}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"


class MqttSink:
    QUEUE = 1000

    def __init__(self, url: str, *, ca: str | None = None, snapshots: bool = False,
                 discovery: str | None = "homeassistant", warn=None):
        self.broker, self.snapshots, self.discovery = parse_url(url), snapshots, discovery
        self.name = f"mqtt {self.broker.shown}"
        self.warn = warn or (lambda message: None)
        self.prefix = self.broker.prefix
        self.node = re.sub(r"[^a-zA-Z0-9_-]", "_", self.prefix)
        self._sources: set[str] = set()  # those with a last-unknown image announced
        self.connected = False
        self.error: str | None = None
        self.published = self.dropped = 0
        self._people: set[str] | None = None  # None until the notifier says who is enrolled
        self._configs: dict[str, str | None] = {}  # retained discovery topics seen -> their state topic
        self._present: dict[str, dict[str, dict]] = {}  # name -> source -> the arrival's details
        self._lock = threading.Lock()
        self._ever_connected = False
        self._closing = False
        client = self.client = _client(self.broker, ca, f"facecam-{self.node}-{id(self):x}")
        client.will_set(self.topic("status"), "offline", qos=1, retain=True)
        client.max_queued_messages_set(self.QUEUE)
        client.reconnect_delay_set(1, 30)
        client.on_connect, client.on_disconnect, client.on_message = self._connected, self._disconnected, self._message
        client.on_connect_fail = lambda client, userdata: self._failed(
            f"cannot connect to {self.broker.host}:{self.broker.port} (nothing answers there, or not as MQTT)")
        client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        client.loop_start()

    def topic(self, *levels: str) -> str:
        return "/".join([self.prefix, *levels])

    # --- what the notifier calls

    def send(self, body: dict, snapshot: bytes | None) -> None:
        self._publish(self.topic("events"), json.dumps(body, separators=(",", ":")))
        kind, name, source = body["event"], body.get("name"), body["source"]
        if kind == "arrived":
            with self._lock:
                self._present.setdefault(name, {})[source] = body
            self._presence(name)
        elif kind == "left":
            with self._lock:
                self._present.get(name, {}).pop(source, None)
                forgotten = self._people is not None and name not in self._people
            if not forgotten:  # someone deleted leaves no retained presence behind
                self._presence(name, last=body)
        elif kind == "unknown" and self.snapshots and snapshot is not None:
            if self.discovery and source not in self._sources:
                self._sources.add(source)
                topic, payload = self.unknown_config(source)
                self._publish(topic, json.dumps(payload), retain=True)
            self._publish(self.topic("unknown", topic_level(source)), snapshot, retain=True)

    def people(self, names: set[str]) -> None:
        with self._lock:
            before = self._people or set()
            gone, new = before - names, names - before
            self._people = set(names)
        for name in gone:
            self._forget(name)
        for name in new:
            self._announce(name)
        self._prune()

    def close(self, deadline: float) -> None:
        """Say offline and let what is queued go out, while connected, until `deadline`."""
        if self.connected:
            info = self._publish(self.topic("status"), "offline", retain=True)
            try:
                if info is not None:
                    info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):  # the connection went meanwhile
                pass
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()

    # --- presence and discovery

    def _presence(self, name: str, last: dict | None = None) -> None:
        with self._lock:
            where = dict(self._present.get(name, {}))
        state = "home" if where else "not_home"
        self._publish(self.topic("presence", topic_level(name)), state, retain=True)
        if where:
            arrival = max(where.values(), key=lambda b: b["time"])
            attributes = {"name": name, "sources": sorted(where), "since": arrival["time"], "score": arrival["score"]}
        else:
            attributes = {"name": name, "sources": [], "last_seen": last["last_seen"] if last else None,
                          "last_source": last["source"] if last else None}
        self._publish(self.topic("presence", topic_level(name), "attributes"), json.dumps(attributes), retain=True)

    def _device(self) -> dict:
        return {"identifiers": [f"facecam_{self.node}"], "name": f"facecam {self.prefix}", "manufacturer": "facecam",
                "model": "face recognition", "sw_version": __version__}

    def person_config(self, name: str) -> tuple[str, dict]:
        """The discovery topic and payload of a person's presence sensor."""
        oid = object_id("person", name)
        state = self.topic("presence", topic_level(name))
        return (f"{self.discovery}/binary_sensor/{self.node}/{oid}/config",
                {"name": name, "unique_id": f"facecam_{self.node}_{oid}", "device_class": "presence",
                 "state_topic": state, "payload_on": "home", "payload_off": "not_home",
                 "json_attributes_topic": f"{state}/attributes", "availability_topic": self.topic("status"),
                 "payload_available": "online", "payload_not_available": "offline", "qos": 1,
                 "device": self._device(), "origin": {"name": "facecam", "sw_version": __version__}})

    def unknown_config(self, source: str) -> tuple[str, dict]:
        """The discovery topic and payload of a source's last-stranger image."""
        oid = object_id("unknown", source)
        return (f"{self.discovery}/image/{self.node}/{oid}/config",
                {"name": f"last unknown at {source}", "unique_id": f"facecam_{self.node}_{oid}",
                 "image_topic": self.topic("unknown", topic_level(source)), "content_type": "image/jpeg",
                 "availability_topic": self.topic("status"), "payload_available": "online",
                 "payload_not_available": "offline", "qos": 1, "device": self._device(),
                 "origin": {"name": "facecam", "sw_version": __version__}})

    def _announce(self, name: str) -> None:
        if self.discovery:
            topic, payload = self.person_config(name)
            self._publish(topic, json.dumps(payload), retain=True)
        self._presence(name)

    def _forget(self, name: str) -> None:
        """A person no longer enrolled: their entity and retained states removed."""
        if self.discovery:
            self._publish(self.person_config(name)[0], "", retain=True)
        state = self.topic("presence", topic_level(name))
        self._publish(state, "", retain=True)
        self._publish(f"{state}/attributes", "", retain=True)

    # --- paho's callbacks (its network thread)

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._failed(f"the broker refused the connection ({reason_code})")
            return
        self.connected = True
        if self.error is not None or self._ever_connected:
            self.warn(f"{self.name}: connected again")
        self.error, self._ever_connected = None, True
        client.publish(self.topic("status"), "online", qos=1, retain=True)
        if self.discovery:
            client.subscribe(f"{self.discovery}/binary_sensor/{self.node}/+/config", qos=1)
            if self.snapshots:
                for source in list(self._sources):
                    topic, payload = self.unknown_config(source)
                    client.publish(topic, json.dumps(payload), qos=1, retain=True)
        with self._lock:
            people = set(self._people or ())
        for name in people:  # a broker that lost its retained messages gets them again
            self._announce(name)

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected
        self.connected = False
        if self._closing:
            return
        if reason_code.is_failure or was:
            self._failed(f"disconnected ({reason_code})" if was else f"cannot connect ({reason_code})")

    def _message(self, client, userdata, message) -> None:
        """A retained discovery configuration: removed once it is known to be of nobody enrolled."""
        if not message.payload:
            return
        try:
            state = json.loads(message.payload).get("state_topic")
        except (ValueError, AttributeError):
            state = None
        with self._lock:
            self._configs[message.topic] = state if isinstance(state, str) else None
        self._prune()

    def _prune(self) -> None:
        with self._lock:
            if self._people is None:
                return
            current = {self.person_config(n)[0] for n in self._people}
            stale = {t: s for t, s in self._configs.items() if t not in current}
            for topic in stale:
                del self._configs[topic]
        for topic, state in stale.items():
            self._publish(topic, "", retain=True)
            if state and state.startswith(self.prefix + "/presence/"):
                self._publish(state, "", retain=True)
                self._publish(f"{state}/attributes", "", retain=True)

    def _publish(self, topic: str, payload, *, retain: bool = False):
        import paho.mqtt.client as mqtt

        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                self.warn(f"{self.name}: {counted(self.dropped, 'message')} dropped so far ({self.error or 'the broker is behind'})")
            return None
        self.published += 1
        return info

    def _failed(self, message: str) -> None:
        """Warned once per outage (the retries say the same again and again)."""
        if self.error is None:
            self.warn(f"{self.name}: {message}; trying again (every 30 s at most), recognition goes on")
            self.error = message


def send_test(url: str, body: dict, *, ca: str | None = None, timeout: float = 10.0) -> str:
    """Publish one event to PREFIX/events and wait for the broker's acknowledgement; what happened
    (raises NotifyError when it did not arrive)."""

    broker = parse_url(url)
    client = _client(broker, ca, f"facecam-test-{id(body):x}")
    answer: dict = {}
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        answer["code"] = reason_code
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except (OSError, ValueError) as err:
        raise NotifyError(f"{broker.shown}: cannot connect ({getattr(err, 'strerror', None) or err})") from None
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise NotifyError(f"{broker.shown}: no answer to the connection within {timeout:g} s")
        if answer["code"].is_failure:
            raise NotifyError(f"{broker.shown}: the broker refused the connection ({answer['code']})")
        topic = f"{broker.prefix}/events"
        info = client.publish(topic, json.dumps(body, separators=(",", ":")), qos=1)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise NotifyError(f"{broker.shown}: the broker did not acknowledge the event within {timeout:g} s")
        return f"{broker.shown}: the test event arrived at the broker ({topic})"
    finally:
        client.disconnect()
        client.loop_stop()
