"""A real RTSP server for the tests and benchmarks: GStreamer's gst-rtsp-server through its Python
bindings (Debian: gir1.2-gst-rtsp-server-1.0, python3-gi, gstreamer1.0-plugins-*), run by the
system's python3. It streams a folder of JPEG frames (00000.jpg, 00001.jpg, ...) as H.264 (or
as JPEG: cheaper to serve at 1080p) at a fixed frame rate, looping for ever; every client gets its
own stream from the first frame (jpeg-shared: one stream for all, joined where it is).

    /usr/bin/python3 tests/rtsp_server.py PORT FOLDER FPS h264|jpeg|jpeg-shared [USER:PASSWORD]
    -> rtsp://127.0.0.1:PORT/clip
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    port, folder, fps, codec = sys.argv[1:5]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    # jpegdec gives the frames their times (from the frame rate): the server sends them at that pace
    source = f'multifilesrc location="{folder}/%05d.jpg" index=0 loop=true caps="image/jpeg,framerate=(fraction){fps}"'
    if codec in ("jpeg", "jpeg-shared"):  # jpeg-shared: encoded once for every client, as a camera's encoder does
        factory.set_shared(codec == "jpeg-shared")
        payload = "jpegdec ! jpegenc quality=90 ! rtpjpegpay name=pay0 pt=26"
    else:
        payload = ("jpegdec ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 bframes=0 "
                   "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1")
    factory.set_launch(f"( {source} ! {payload} )")
    if len(sys.argv) > 5:  # basic authentication: a client without these credentials gets 401
        user, password = sys.argv[5].split(":", 1)
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
