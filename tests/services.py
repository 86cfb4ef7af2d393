"""Real services started for the tests and benchmarks, on free localhost ports in temporary
folders: a throw-away PostgreSQL server (Debian's postgresql package), GStreamer's RTSP server, a
Mosquitto MQTT broker, an HTTP receiver for webhooks, and Debian's Chromium with a fake camera."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A cluster made with initdb in a temporary folder, run as the `postgres` user when this
    runs as root (PostgreSQL refuses root), password authentication over TCP on a free port.
    new_database() makes an empty database and returns its postgresql:// URL; stop() and start()
    take the server away and bring it back; close() removes it all."""

    PASSWORD = "facecam-test"

    @staticmethod
    def installed() -> bool:
        return bool(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))

    def __init__(self, *, fsync: bool = False):
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="facecam-postgres-"))  # not under pytest's root-only folders
        self.cluster, self.sockets = self.root / "cluster", self.root / "sockets"
        self.sockets.mkdir()
        self.as_user = []
        password = self.root / "password"
        password.write_text(self.PASSWORD + "\n")
        if os.getuid() == 0:
            for path in (self.root, self.sockets, password):
                shutil.chown(path, "postgres")
            os.chmod(self.root, 0o755)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.cluster), "-U", "facecam", "--pwfile", str(password), "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        self.port = free_port()
        self.options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1" + ("" if fsync else " -c fsync=off")
        self._count = 0
        self.start()

    def _run(self, tool: str, *args: str, user: bool = True) -> None:
        result = subprocess.run([*(self.as_user if user else []), str(self.bin / tool), *args], capture_output=True,
                                text=True)
        if result.returncode:
            raise RuntimeError(f"{tool} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.cluster), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "-o", self.options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.cluster), "-m", "immediate", "-w", "stop")

    def new_database(self) -> str:
        self._count += 1
        name = f"history{self._count}"
        self._run("createdb", "-h", str(self.sockets), "-p", str(self.port), "-U", "facecam", name, user=False)
        return f"postgresql://facecam:{self.PASSWORD}@127.0.0.1:{self.port}/{name}"

    def copy_database(self, url: str) -> str:
        """A new database holding what the database at `url` holds (which nobody may be using)."""
        self._count += 1
        name = f"history{self._count}"
        self._run("createdb", "-h", str(self.sockets), "-p", str(self.port), "-U", "facecam", "-T", url.rsplit("/", 1)[1],
                  name, user=False)
        return f"postgresql://facecam:{self.PASSWORD}@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.cluster), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


class RtspServer:
    """tests/rtsp_server.py run by the system's python3 (GStreamer's bindings live there) on a free
    port: the JPEG frames of `folder` as a looping H.264 (or `codec` "jpeg") stream at `fps` (a
    fraction such as 30000/1001). url: rtsp://127.0.0.1:PORT/clip (with the credentials when `credentials`
    "user:password" is given, which the server then requires). stop() kills it (a camera going
    away), start() brings it back on the same port."""

    SCRIPT = Path(__file__).with_name("rtsp_server.py")

    @staticmethod
    def installed() -> bool:
        probe = ("import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer; "
                 "Gst.init(None); import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in "
                 "('multifilesrc', 'jpegdec', 'x264enc', 'rtph264pay')) else 1)")
        return Path("/usr/bin/python3").exists() and subprocess.run(["/usr/bin/python3", "-c", probe],
                                                                   capture_output=True).returncode == 0

    def __init__(self, folder: Path, fps: str = "30000/1001", credentials: str | None = None, codec: str = "h264"):
        self.folder, self.fps, self.credentials, self.codec = folder, fps, credentials, codec
        self.port = free_port()
        self.url = f"rtsp://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}/clip"
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(["/usr/bin/python3", str(self.SCRIPT), str(self.port), str(self.folder), self.fps,
                                         self.codec, *([self.credentials] if self.credentials else [])],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the RTSP server did not start: {self.process.stderr.read()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    close = stop


class Mosquitto:
    """Debian's mosquitto on a free localhost port, from a config file in a temporary folder
    (no persistence: a restart loses retained messages, as a broker that was reinstalled would).
    With `users` ({name: password}) it takes only those, from a password file made with
    mosquitto_passwd. url(user, password): mqtt://... with PREFIX; stop() and start() take it away
    and bring it back on the same port."""

    @staticmethod
    def installed() -> bool:
        return Path("/usr/sbin/mosquitto").exists() and shutil.which("mosquitto_passwd") is not None

    def __init__(self, users: dict[str, str] | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="facecam-mosquitto-"))
        self.port = free_port()
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr"]
        if users:
            passwords = self.root / "passwords"
            for k, (user, password) in enumerate(users.items()):
                subprocess.run(["mosquitto_passwd", *(["-c"] if k == 0 else []), "-b", str(passwords), user, password],
                               check=True, capture_output=True)
            os.chmod(passwords, 0o644)  # mosquitto drops root and reads it as its own user
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.config = self.root / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        os.chmod(self.root, 0o755)
        self.process = None
        self.start()

    def url(self, prefix: str = "facecam", user: str | None = None, password: str | None = None) -> str:
        credentials = f"{user}:{password}@" if user else ""
        return f"mqtt://{credentials}127.0.0.1:{self.port}/{prefix}"

    def start(self) -> None:
        import time

        self.process = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto did not start: {self.process.stderr.read()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 10 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Subscriber:
    """A real MQTT client (paho) subscribed to `topics` on a broker, keeping every message:
    messages: [(topic, payload bytes, retained)]. It reconnects by itself when the broker comes back."""

    def __init__(self, port: int, topics=("#",), user: str | None = None, password: str | None = None):
        import threading

        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self.changed = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if user:
            self.client.username_pw_set(user, password)
        self.client.reconnect_delay_set(0.2, 1)

        def connected(client, userdata, flags, reason_code, properties):
            for topic in topics:
                client.subscribe(topic, qos=1)

        def message(client, userdata, msg):
            with self.changed:
                self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
                self.changed.notify_all()

        self.client.on_connect, self.client.on_message = connected, message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def wait_for(self, predicate, timeout: float = 20.0) -> bool:
        """Wait until predicate(messages) holds."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.messages), timeout=timeout)

    def events(self, prefix: str = "facecam") -> list[dict]:
        import json

        return [json.loads(p) for t, p, _ in self.messages if t == f"{prefix}/events"]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Receiver:
    """An HTTP server in a thread that keeps every POST (headers, body) and answers `status`
    (settable), or holds the request `hang` seconds first; on a free localhost port at url.
    login: (user, password) it asks for with basic authentication (401 without them)."""

    def __init__(self, status: int = 204, login: tuple[str, str] | None = None):
        import base64
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.status, self.hang = status, 0.0
        wanted = None if login is None else "Basic " + base64.b64encode(":".join(login).encode()).decode()
        self.requests: list[tuple[dict, bytes]] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                import time

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.hang:
                    time.sleep(receiver.hang)
                with receiver.changed:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.changed.notify_all()
                self.send_response(401 if wanted and self.headers.get("Authorization") != wanted else receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, predicate, timeout: float = 20.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.requests), timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def video_frames(video: Path, folder: Path, *, limit: int | None = None) -> int:
    """Write a video's frames as folder/00000.jpg, 00001.jpg, ... (what RtspServer streams)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(video))
    count = 0
    while limit is None or count < limit:
        ok, image = capture.read()
        if not ok:
            break
        cv2.imwrite(str(folder / f"{count:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        count += 1
    capture.release()
    return count


def chromium(y4m: Path | None = None, *, camera_allowed: bool = True, size=(1280, 900)):
    """Debian's chromium, headless, through chromium-driver (selenium); with y4m, a fake camera
    that plays it, allowed without asking unless not camera_allowed (as a person saying no)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--force-device-scale-factor=1", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    if y4m is not None:
        options.add_argument("--use-fake-device-for-media-stream")
        options.add_argument(f"--use-file-for-fake-video-capture={y4m}")
        if camera_allowed:
            options.add_argument("--use-fake-ui-for-media-stream")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_script_timeout(30)
    return driver


def camera_file(clip: Path, path: Path) -> Path:
    """The frames of the Hamilton clip that hold Lin-Manuel Miranda alone (85 to 210), cropped
    to him and sized 640x480, as the .y4m file Chromium plays as its fake camera (on a loop)."""
    import cv2

    video = cv2.VideoCapture(str(clip))
    with open(path, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F25:1 Ip A1:1 C420jpeg\n")
        index = 0
        while True:
            ok, frame = video.read()
            if not ok or index > 210:
                break
            if index >= 85:
                image = cv2.resize(frame[:, 20:500], (640, 480), interpolation=cv2.INTER_AREA)
                out.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes())
            index += 1
    video.release()
    return path
