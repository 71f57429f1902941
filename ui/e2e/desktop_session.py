#!/usr/bin/python3
"""The desktop around the app in the desktop smoke test, on the test's own D-Bus session bus and X display.

- A notification server (org.freedesktop.Notifications): records every Notify call the app makes.
- A StatusNotifier watcher with a host (org.kde.StatusNotifierWatcher), as a panel provides: the app's tray
  icon registers with it, and the test reads the icon's label and menu and clicks menu items over D-Bus
  (com.canonical.dbusmenu), as a panel does.
- A window manager's part of closing a window: WM_DELETE_WINDOW to the app's window (found by its pid), and
  its map state.

Events go to stdout, one JSON object a line ({"event": "notify" | "tray" | "ready", ...}); commands come on
stdin, one JSON object a line ({"id": N, "cmd": ...}), each answered with {"event": "reply", "id": N, ...}.
Debian packages: python3-dbus, python3-gi, python3-xlib.
"""

import json
import sys
import traceback

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NOTIFICATIONS = "org.freedesktop.Notifications"
WATCHER = "org.kde.StatusNotifierWatcher"
ITEM = "org.kde.StatusNotifierItem"
MENU = "com.canonical.dbusmenu"
PROPERTIES = "org.freedesktop.DBus.Properties"


def emit(**event):
    print(json.dumps(event), flush=True)


class Notifications(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/Notifications")
        self.next_id = 0

    @dbus.service.method(NOTIFICATIONS, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints, timeout):
        self.next_id += 1
        emit(
            event="notify",
            id=self.next_id,
            app_name=str(app_name),
            icon=str(app_icon),
            summary=str(summary),
            body=str(body),
        )
        return dbus.UInt32(self.next_id)

    @dbus.service.method(NOTIFICATIONS, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["body", "body-markup", "actions"]

    @dbus.service.method(NOTIFICATIONS, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("souk-test-session", "souk", "1", "1.2")

    @dbus.service.method(NOTIFICATIONS, in_signature="u", out_signature="")
    def CloseNotification(self, notification_id):
        self.NotificationClosed(notification_id, 3)

    @dbus.service.signal(NOTIFICATIONS, signature="uu")
    def NotificationClosed(self, notification_id, reason):
        pass

    @dbus.service.signal(NOTIFICATIONS, signature="us")
    def ActionInvoked(self, notification_id, action_key):
        pass


class Watcher(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/StatusNotifierWatcher")
        self.items = []

    @dbus.service.method(WATCHER, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        # An item names either its bus name or (libayatana-appindicator) its object path on the sender.
        if service.startswith("/"):
            item = (str(sender), str(service))
        else:
            item = (str(service), "/StatusNotifierItem")
        self.items.append(item)
        emit(event="tray", service=item[0], path=item[1])
        self.StatusNotifierItemRegistered("%s%s" % item)

    @dbus.service.method(WATCHER, in_signature="s", out_signature="")
    def RegisterStatusNotifierHost(self, service):
        pass

    @dbus.service.signal(WATCHER, signature="s")
    def StatusNotifierItemRegistered(self, item):
        pass

    @dbus.service.signal(WATCHER, signature="")
    def StatusNotifierHostRegistered(self):
        pass

    def properties(self):
        return {
            "RegisteredStatusNotifierItems": dbus.Array(["%s%s" % i for i in self.items], signature="s"),
            "IsStatusNotifierHostRegistered": dbus.Boolean(True),
            "ProtocolVersion": dbus.Int32(0),
        }

    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        return self.properties()[name]

    @dbus.service.method(PROPERTIES, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return self.properties()


def labels(layout):
    """[(id, label, enabled)] of a dbusmenu layout, depth first."""
    found = []
    item_id, props, children = layout
    if "label" in props:
        found.append((int(item_id), str(props["label"]), bool(props.get("enabled", True))))
    for child in children:
        found.extend(labels(child))
    return found


class Session:
    def __init__(self, bus, watcher):
        self.bus = bus
        self.watcher = watcher

    def item(self):
        if not self.watcher.items:
            raise RuntimeError("no tray icon registered")
        service, path = self.watcher.items[-1]
        return self.bus.get_object(service, path), service

    def tray(self):
        item, service = self.item()
        props = dbus.Interface(item, PROPERTIES)
        menu_path = props.Get(ITEM, "Menu")
        menu = dbus.Interface(self.bus.get_object(service, menu_path), MENU)
        _, layout = menu.GetLayout(0, -1, dbus.Array([], signature="s"))
        return {
            "label": str(props.Get(ITEM, "XAyatanaLabel")),
            "status": str(props.Get(ITEM, "Status")),
            "menu": [{"id": i, "label": l, "enabled": e} for i, l, e in labels(layout)],
        }

    def click(self, label):
        item, service = self.item()
        menu_path = dbus.Interface(item, PROPERTIES).Get(ITEM, "Menu")
        menu = dbus.Interface(self.bus.get_object(service, menu_path), MENU)
        _, layout = menu.GetLayout(0, -1, dbus.Array([], signature="s"))
        ids = [i for i, l, _ in labels(layout) if l.replace("_", "") == label]
        if not ids:
            raise RuntimeError("no menu item %r" % label)
        menu.Event(dbus.Int32(ids[0]), "clicked", dbus.Int32(0, variant_level=1), dbus.UInt32(0))
        return {}

    def window(self, pid, title="Souk"):
        """The app's main window: of that process and with that title (GDK's own leader window and
        the tray menu's window have the program's name)."""
        from Xlib import X, display

        d = display.Display()
        pid_atom = d.intern_atom("_NET_WM_PID")
        found = []

        def walk(w):
            try:
                prop = w.get_full_property(pid_atom, X.AnyPropertyType)
                if prop and prop.value and int(prop.value[0]) == pid and w.get_wm_name() == title:
                    found.append(w)
                for child in w.query_tree().children:
                    walk(child)
            except Exception:
                pass

        walk(d.screen().root)
        if not found:
            raise RuntimeError("no window of pid %d" % pid)
        # A mapped one first, should there be more.
        found.sort(key=lambda w: w.get_attributes().map_state != X.IsViewable)
        return d, found[0], len(found)

    def window_state(self, pid):
        from Xlib import X

        d, w, count = self.window(pid)
        attrs = w.get_attributes()
        geometry = w.get_geometry()
        state = {
            "title": w.get_wm_name(),
            "mapped": attrs.map_state == X.IsViewable,
            "width": geometry.width,
            "height": geometry.height,
            "window": hex(w.id),
            "candidates": count,
        }
        d.close()
        return state

    def close_window(self, pid):
        """What a window manager does on the close button: a WM_DELETE_WINDOW client message."""
        from Xlib import X
        from Xlib.protocol import event

        d, w, _ = self.window(pid)
        protocols = d.intern_atom("WM_PROTOCOLS")
        delete = d.intern_atom("WM_DELETE_WINDOW")
        message = event.ClientMessage(window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
        w.send_event(message, event_mask=X.NoEventMask)
        d.sync()
        d.close()
        return {"window": hex(w.id)}


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    names = [dbus.service.BusName(NOTIFICATIONS, bus), dbus.service.BusName(WATCHER, bus)]
    Notifications(bus)
    watcher = Watcher(bus)
    session = Session(bus, watcher)
    loop = GLib.MainLoop()

    def on_command(source, condition):
        line = sys.stdin.readline()
        if not line:
            loop.quit()
            return False
        request = json.loads(line)
        try:
            cmd = request["cmd"]
            if cmd == "tray":
                result = session.tray()
            elif cmd == "click":
                result = session.click(request["label"])
            elif cmd == "window":
                result = session.window_state(int(request["pid"]))
            elif cmd == "close":
                result = session.close_window(int(request["pid"]))
            else:
                raise RuntimeError("unknown command %r" % cmd)
            emit(event="reply", id=request["id"], ok=True, result=result)
        except Exception as e:
            emit(event="reply", id=request["id"], ok=False, error="%s\n%s" % (e, traceback.format_exc()))
        return True

    GLib.io_add_watch(sys.stdin, GLib.IO_IN | GLib.IO_HUP, on_command)
    emit(event="ready", names=[str(n.get_name()) for n in names])
    loop.run()


if __name__ == "__main__":
    main()
