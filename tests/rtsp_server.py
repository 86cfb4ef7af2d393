"""A real RTSP server for the tests and benchmarks: GStreamer's gst-rtsp-server through its Python
bindings (Debian: gir1.2-gst-rtsp-server-1.0, python3-gi, gstreamer1.0-plugins-*), run by the
system's python3. It streams a folder of JPEG frames (00000.jpg, 00001.jpg, ...) as H.264 at a
fixed frame rate, looping for ever; every client gets its own stream from the first frame.

    /usr/bin/python3 tests/rtsp_server.py PORT FOLDER FPS [USER:PASSWORD]
    -> rtsp://127.0.0.1:PORT/clip
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    port, folder, fps = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( multifilesrc location="{folder}/%05d.jpg" index=0 loop=true caps="image/jpeg,framerate=(fraction){fps}" '
        "! jpegdec ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 bframes=0 "
        "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )")
    if len(sys.argv) > 4:  # basic authentication: a client without these credentials gets 401
        user, password = sys.argv[4].split(":", 1)
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", user)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role(user, "media.factory.access", True)
        permissions.add_permission_for_role(user, "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/clip", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
