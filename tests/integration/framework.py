"""A small harness for multi-process tests of iolmd on 127.0.0.1 (standard library only).

Each test gets a temporary testnet made by `iolmd testnet` on free ports, starts real
iolmd processes, and talks to them over their HTTP RPC. Every process is killed when the
test ends, even when it fails, and the node logs are printed on failure. Waits are
bounded and say what they waited for when they time out. With IOLM_KEEP_LOGS=DIR set, the
full node logs of a failed test are also copied into DIR; IOLM_TEST_LOG_LEVEL=debug sets
every node's log level.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


class TestFailure(Exception):
    pass


def ephemeral_low():
    """The first port of the kernel's range for outgoing connections (32768 by default)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_base_port(count):
    """A base port such that base .. base+count-1 are all free right now, below the
    range the kernel hands out to outgoing connections: a port picked there can be
    taken by any process's connect() before the test listens on it."""
    top = max(ephemeral_low(), 20000 + 1000 + count)
    for _ in range(200):
        base = random.randint(20000, top - count)
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise TestFailure("no free port range found")


class Node:
    def __init__(self, net, index):
        self.net = net
        self.index = index
        self.dir = os.path.join(net.dir, "node%d" % index)
        self.rpc_port = net.base + 2 * index + 1
        self.proc = None
        self.log_path = os.path.join(net.dir, "node%d.log" % index)

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.net.iolmd, "start", "-d", self.dir],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure("node%d did not stop within %ds" % (self.index, timeout))
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.rpc_port, path)

    def cookie(self):
        with open(os.path.join(self.dir, "rpc.cookie")) as f:
            return f.read().strip()

    def get(self, path, timeout=5):
        with urllib.request.urlopen(self.url(path), timeout=timeout) as r:
            return json.loads(r.read())

    def get_text(self, path, timeout=5):
        with urllib.request.urlopen(self.url(path), timeout=timeout) as r:
            return r.read().decode()

    def get_bytes(self, path, token=None, timeout=10):
        """(HTTP status, raw body) of a GET, with the cookie token when given."""
        req = urllib.request.Request(self.url(path))
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post(self, path, body, token=None, timeout=5):
        """(HTTP status, decoded JSON body)."""
        req = urllib.request.Request(self.url(path), data=body, method="POST")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (ConnectionError, OSError) as e:
            return 0, {"transport_error": str(e)}
        try:
            return status, json.loads(raw or b"{}")
        except ValueError:
            return status, {"raw": raw.decode(errors="replace")}

    def status(self):
        try:
            return self.get("/status", timeout=2)
        except (OSError, ValueError):
            return None

    def height(self):
        s = self.status()
        return s["height"] if s else -1


class Testnet:
    def __init__(self, validators=4):
        top = os.environ.get("IOLM_BUILD_DIR") or os.path.join(
            os.path.dirname(__file__), "..", "..", "build")
        self.iolmd = os.path.join(top, "node", "iolmd")
        self.load = os.path.join(top, "node", "iolm-load")
        if not os.access(self.iolmd, os.X_OK):
            raise TestFailure("iolmd not built at %s" % self.iolmd)
        self.dir = tempfile.mkdtemp(prefix="iolm-it-")
        self.base = free_base_port(2 * validators)
        subprocess.run([self.iolmd, "testnet", "--validators", str(validators), "--out", self.dir,
                        "--base-port", str(self.base), "--chain-id", "iolm-it"],
                       check=True, stdout=subprocess.DEVNULL)
        self.nodes = [Node(self, i) for i in range(validators)]
        level = os.environ.get("IOLM_TEST_LOG_LEVEL")
        if level:
            for n in self.nodes:
                conf = os.path.join(n.dir, "node.conf")
                with open(conf) as f:
                    text = f.read().replace("log_level = info", "log_level = " + level)
                with open(conf, "w") as f:
                    f.write(text)

    def start_all(self):
        for n in self.nodes:
            n.start()

    def wait(self, what, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            for n in self.nodes:
                if n.proc and n.proc.poll() is not None:
                    raise TestFailure("node%d exited with %d while waiting for %s" %
                                      (n.index, n.proc.returncode, what))
            time.sleep(0.1)
        raise TestFailure("timed out after %ds waiting for %s" % (timeout, what))

    def dump_logs(self):
        for n in self.nodes:
            if n.proc and n.proc.poll() is None:
                s = n.status()
                c = s.get("consensus", {}) if s else {}
                print("node%d: %s" % (n.index, "no /status" if not s else
                      "height %s, consensus height %s round %s step %s, %s peers" %
                      (s.get("height"), c.get("height"), c.get("round"), c.get("step_name"),
                       s.get("peers"))), file=sys.stderr)
            else:
                print("node%d: not running" % n.index, file=sys.stderr)
        for n in self.nodes:
            print("----- node%d log (last 60 lines) -----" % n.index, file=sys.stderr)
            try:
                with open(n.log_path, errors="replace") as f:
                    print("".join(f.readlines()[-60:]), file=sys.stderr)
            except OSError:
                print("(no log)", file=sys.stderr)
        # the tools' logs the test wrote beside the nodes' (a miner's run-N.log)
        try:
            nodes = {os.path.basename(n.log_path) for n in self.nodes}
            tools = sorted(f for f in os.listdir(self.dir)
                           if f.endswith(".log") and f not in nodes)
        except OSError:
            tools = []
        for name in tools:
            print("----- %s (last 30 lines) -----" % name, file=sys.stderr)
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    print("".join(f.readlines()[-30:]), file=sys.stderr)
            except OSError:
                print("(unreadable)", file=sys.stderr)

    def keep_logs(self, name):
        dest = os.environ.get("IOLM_KEEP_LOGS")
        if not dest:
            return
        dest = os.path.join(dest, "%s-%d" % (name, os.getpid()))
        os.makedirs(dest, exist_ok=True)
        for n in self.nodes:
            if os.path.exists(n.log_path):
                shutil.copy(n.log_path, dest)
        # and the tools' logs the test wrote beside them (a miner's run-N.log)
        for f in os.listdir(self.dir):
            if f.endswith(".log") and os.path.isfile(os.path.join(self.dir, f)):
                shutil.copy(os.path.join(self.dir, f), dest)
        print("full logs kept in %s" % dest, file=sys.stderr)

    def cleanup(self):
        for n in self.nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(test):
    """Run test(net) with a fresh testnet; exit 0 on success, 1 with logs on failure."""
    net = Testnet()
    try:
        test(net)
        print("PASS %s" % test.__name__)
        return 0
    except Exception as e:  # noqa: BLE001 - any failure fails the test
        print("FAIL %s: %s" % (test.__name__, e), file=sys.stderr)
        net.dump_logs()
        net.keep_logs(test.__name__)
        return 1
    finally:
        net.cleanup()
