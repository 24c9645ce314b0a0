# SPDX-License-Identifier: LGPL-2.1-or-later
"""Does a cgroup's device and IP filter bite? Run inside the booted system as
`python3 - [CGROUP]` (the script on stdin). With CGROUP (a path under
/sys/fs/cgroup, e.g. system.slice/keyd.service) it first moves itself into
that cgroup, so systemd's BPF programs for the unit apply to it. Prints:
  device=open|<error>   opening /dev/net/tun (a device DevicePolicy=closed
                        plus DeviceAllow=char-drm does not allow)
  udp=sent|<error>      a UDP datagram to 127.0.0.1 (IPAddressDeny=any)
"""

import os
import socket
import sys

if len(sys.argv) > 1:
    with open(os.path.join("/sys/fs/cgroup", sys.argv[1], "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))

try:
    os.close(os.open("/dev/net/tun", os.O_RDWR))
    print("device=open")
except OSError as e:
    print("device=" + e.strerror)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"keyd", ("127.0.0.1", 9))
    print("udp=sent")
except OSError as e:
    print("udp=" + e.strerror)
