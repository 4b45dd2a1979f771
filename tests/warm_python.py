"""A ``python`` for shell commands that starts in milliseconds: a server
process imports van_mm, mmdet and mmseg once; each ``python SCRIPT ARGS``
a shell runs connects to it, and a fork of the server runs the script as
``__main__`` with the caller's arguments, working directory, environment
and standard streams, and exits with the script's exit code.

Every tool start costs 5-7 s of CPU in imports alone; the tutorial test
(test_custom_data_doc.py) runs a dozen of them. The commands themselves run
verbatim in bash: only the interpreter's start-up is shared. Only
``python SCRIPT [ARGS]`` is served (no ``-c``, ``-m`` or options).

    server = WarmPython(folder, env)  # the server; folder/python
    ... run shells with folder on PATH ...
    server.close()
"""
import array
import json
import os
import socket
import subprocess
import sys
import time

# The client: the ``python`` on the shell's PATH (standard library only,
# started with -SE so that it loads no site packages).
CLIENT = r'''#!{python} -SE
import array, json, os, socket, sys
if len(sys.argv) < 2 or sys.argv[1].startswith('-'):
    sys.exit('warm python: only "python SCRIPT [ARGS]" is served')
s = socket.socket(socket.AF_UNIX)
s.connect({address!r})
message = json.dumps(dict(argv=sys.argv[1:], cwd=os.getcwd(),
                          env=dict(os.environ))).encode()
s.sendmsg([len(message).to_bytes(8, 'big') + message],
          [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
            array.array('i', [0, 1, 2]))])
code = s.recv(8)
sys.exit(int.from_bytes(code, 'big', signed=True) if len(code) == 8 else 1)
'''

PRELOAD = ('van_mm', 'van_mm.cli.train', 'van_mm.cli.test',
           'van_mm.cli.demo', 'van_mm.cli.export_onnx',
           'van_mm.cli.config_for_data', 'van_mm.checks.dataset',
           'van_mm.export', 'mmdet.models', 'mmdet.datasets',
           'mmdet.evaluation', 'mmdet.visualization', 'mmseg.models',
           'mmseg.datasets', 'mmseg.evaluation', 'mmseg.visualization')


def _recv_exactly(conn, n):
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError('client gone')
        data += chunk
    return data


def _run_script(argv, cwd, env):
    """In the forked child: what ``python SCRIPT ARGS`` does; the exit
    code."""
    import runpy
    import traceback
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    script = os.path.abspath(argv[0])
    if not os.path.isfile(script):
        print(f"python: can't open file {script!r}: [Errno 2] No such file "
              'or directory', file=sys.stderr)
        return 2
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(script)
    try:
        runpy.run_path(script, run_name='__main__')
        code = 0
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    return code


def _reap():
    """Collect the children that have finished (their CPU time then
    counts in RUSAGE_CHILDREN)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(address):
    """The server's loop (run by :class:`WarmPython` in its own
    process)."""
    import importlib
    for name in PRELOAD:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX)
    if os.path.exists(address):
        os.unlink(address)
    listener.bind(address)
    listener.listen(16)
    print('ready', flush=True)
    while True:
        conn, _ = listener.accept()
        head, fds, _, _ = socket.recv_fds(conn, 8 + 65536, 3)
        size = int.from_bytes(head[:8], 'big')
        body = head[8:] + _recv_exactly(conn, size - len(head) + 8)
        request = json.loads(body)
        _reap()
        if request['argv'] == ['--cpu-seconds']:  # WarmPython.cpu_seconds
            import resource
            for fd in fds:
                os.close(fd)
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            conn.sendall(json.dumps(used.ru_utime + used.ru_stime).encode())
            conn.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            code = 1
            try:
                code = _run_script(request['argv'], request['cwd'],
                                   request['env'])
            finally:
                # what the interpreter does at exit: atexit handlers (the
                # data loaders' daemonic workers are ended there), then
                # flush
                import atexit
                atexit._run_exitfuncs()
                sys.stdout.flush()
                sys.stderr.flush()
                conn.sendall(int(code).to_bytes(8, 'big', signed=True))
                os._exit(code & 0xff)
        for fd in fds:
            os.close(fd)
        conn.close()


class WarmPython:
    """The server, and its client written to ``folder/python``."""

    def __init__(self, folder, env):
        os.makedirs(folder, exist_ok=True)
        self.address = os.path.join(folder, 'warm.sock')
        here = os.path.dirname(os.path.abspath(__file__))
        env = dict(env, PYTHONPATH=os.pathsep.join(
            p for p in (here, env.get('PYTHONPATH')) if p))
        start = time.perf_counter()
        # a session of its own: close() ends whatever the commands left
        self.process = subprocess.Popen(
            [sys.executable, '-c',
             f'import warm_python; warm_python.serve({self.address!r})'],
            env=env, stdout=subprocess.PIPE, text=True,
            start_new_session=True)
        line = self.process.stdout.readline()
        if line.strip() != 'ready':
            self.close()
            raise RuntimeError('the warm python server did not start')
        self.start_seconds = time.perf_counter() - start
        client = os.path.join(folder, 'python')
        with open(client, 'w') as f:
            f.write(CLIENT.format(python=sys.executable,
                                  address=self.address))
        os.chmod(client, 0o755)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the commands served so far, their
        data-loader workers included."""
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.address)
        message = json.dumps(dict(argv=['--cpu-seconds'])).encode()
        s.sendmsg([len(message).to_bytes(8, 'big') + message],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                    array.array('i', [0, 1, 2]))])
        answer = b''
        while chunk := s.recv(64):
            answer += chunk
        s.close()
        return float(answer)

    def close(self):
        import signal
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process.stdout.close()
        if os.path.exists(self.address):
            os.unlink(self.address)
