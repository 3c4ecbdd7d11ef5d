# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tools/blocking-stdio COMMAND [ARG...]: run COMMAND with blocking standard descriptors.

Ansible refuses to start when stdin, stdout or stderr is non-blocking ("Ansible requires blocking IO"). The
O_NONBLOCK flag belongs to the open file description, which every process that inherited the descriptor shares:
one program that sets it (some Go programs do, on a pipe or a terminal) leaves it set for all the others that
write to the same terminal, pipe or CI log. So, before COMMAND starts:

* a closed descriptor 0, 1 or 2 is opened on /dev/null (so that COMMAND does not read or write a file it opens
  next in that slot);
* a non-blocking one is put back into blocking mode, with a note on stderr saying which.

Callers give COMMAND its own stdin (``</dev/null``) when it should not read the caller's: the Makefile and
tools/test-all.sh do.
"""

import fcntl
import os
import sys


def main(argv):
    if not argv:
        sys.stderr.write("usage: tools/blocking-stdio COMMAND [ARG...] (runs COMMAND with blocking stdin/stdout/stderr)\n")
        return 2
    for fd, flags in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            # Close-on-exec: not an inherited descriptor but one this interpreter opened in the free slot (the script).
            closed = bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
        except OSError:
            closed = True
        if closed:
            opened = os.open(os.devnull, flags)
            if opened != fd:
                os.dup2(opened, fd)   # the copy is inherited (dup2 clears close-on-exec)
                os.close(opened)
            else:
                os.set_inheritable(fd, True)
            continue
        try:
            if not os.get_blocking(fd):
                os.set_blocking(fd, True)
                os.write(2, ("blocking-stdio: fd %d was non-blocking (left so by an earlier program); "
                             "made it blocking for %s\n" % (fd, argv[0])).encode())
        except OSError:
            pass
    try:
        os.execvp(argv[0], argv)
    except OSError as error:
        sys.stderr.write("blocking-stdio: cannot run %s: %s\n" % (argv[0], error))
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
