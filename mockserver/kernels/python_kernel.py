# e2b-mock Python kernel: a persistent interpreter that behaves like E2B's Jupyter kernel.
#
# Wire protocol (driven by mockserver/src/kernel.c):
#   fd 4 (in)  : one JSON request per line: {"code": str, "env_vars": {str: str} | null}
#                or {"set_env": {str: str}} (one-way, no events: kernel_adopt)
#   fd 3 (out) : JSON event lines:
#       {"type":"ready"}                                  once, after start-up
#       {"type":"number_of_executions","execution_count":n}
#       {"type":"stdout"|"stderr","text":str}              streamed while the cell runs
#       {"type":"result","is_main_result":bool,"bundle":{mime: value}}
#       {"type":"error","name":str,"value":str,"traceback":str}
#       {"type":"end"}                                    after every request
#   fd 0 is /dev/null; fd 1/2 are pipes the server forwards as stdout/stderr (subprocesses,
#   C extensions).  SIGINT interrupts the running cell (KeyboardInterrupt), never the kernel.
import ast
import base64
import builtins
import io
import json
import linecache
import os
import signal
import sys
import threading
import time
import traceback
import types

EV_FD = 3
REQ_FD = 4
_dumps = json.JSONEncoder(ensure_ascii=False, default=repr).encode
_lock = threading.Lock()
_main_ident = threading.get_ident()

# Signal state: the SIGINT handler raises only while user code runs, and never in the middle
# of an event write (that would cut a JSON line in half).
_in_user = False
_crit = 0
_pending_int = False


_executing = False  # between reading a request and its "end" event


def _on_sigint(signum, frame):
    global _pending_int
    if not _in_user:
        # an interrupt that arrives before the cell's code started still cancels it
        if _executing:
            _pending_int = True
        return
    if _crit:
        _pending_int = True
        return
    raise KeyboardInterrupt


def _write_all(data):
    mv = memoryview(data)
    while mv:
        n = os.write(EV_FD, mv)
        mv = mv[n:]


def emit(ev):
    _emit_raw(_dumps(ev).encode("utf-8", "surrogatepass") + b"\n")


def _emit_raw(data):
    global _crit, _pending_int
    main = threading.get_ident() == _main_ident
    if main:
        _crit += 1
    try:
        with _lock:
            _write_all(data)
    finally:
        if main:
            _crit -= 1
    if main and _pending_int and not _crit:
        _pending_int = False
        if _in_user:
            raise KeyboardInterrupt


class _Flusher(threading.Thread):
    """Sends buffered output: complete lines _LINE_DELAY s after the first pending byte
    (coalescing many small prints into one event), a partial line (print(..., end=''))
    _PARTIAL_DELAY s after it was written."""

    def __init__(self):
        super().__init__(daemon=True, name="e2b-flusher")
        self.event = threading.Event()
        self.streams = []

    def run(self):
        while True:
            self.event.wait()
            self.event.clear()
            pending = True
            while pending:
                time.sleep(_LINE_DELAY)
                now = time.monotonic()
                pending = False
                for s in self.streams:
                    try:
                        if s._due(now):
                            s.flush()
                        elif s._buf:
                            pending = True
                    except Exception:
                        pass


_LINE_DELAY = 0.003
_PARTIAL_DELAY = 0.05
_FLUSH_BYTES = 32768  # one event fits a default 64 KiB pipe (larger writes cost ~10x the CPU)
_enc_str = json.encoder.encode_basestring  # the C encoder, like _dumps (ensure_ascii=False)
_flusher = _Flusher()


class _BinaryOut(io.RawIOBase):
    def __init__(self, text):
        self._text = text

    def writable(self):
        return True

    def write(self, b):
        self._text.write(bytes(b).decode("utf-8", "replace"))
        return len(b)


class OutStream(io.TextIOBase):
    """sys.stdout / sys.stderr replacement. Output is coalesced: pending text becomes one
    event when it reaches _FLUSH_BYTES, _LINE_DELAY s after the first pending complete line
    (so a print before a long sleep still arrives at once), before the other stream's next
    write (keeps stdout/stderr order), and at the end of the cell."""

    def __init__(self, name, fd):
        self._name = name
        self._fd = fd
        self._buf = []
        self._size = 0
        self._nl = False       # a complete line is pending
        self._t0 = 0.0         # when the pending partial line was written
        self._blk = threading.Lock()
        self._peer = None      # the other stream
        self._pre = '{"type":"%s","text":' % name
        self.buffer = _BinaryOut(self)

    @property
    def name(self):
        return "<%s>" % self._name

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self._fd

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if not s:
            return 0
        peer = self._peer
        if peer is not None and peer._buf:
            peer.flush()
        with self._blk:
            first = not self._buf
            if first:
                self._t0 = time.monotonic()
            self._buf.append(s)
            self._size += len(s)
            if "\n" in s:
                self._nl = True
            due = self._size >= _FLUSH_BYTES or (
                self._nl and time.monotonic() - self._t0 >= _LINE_DELAY)
        if due:
            self.flush()
        elif first:
            _flusher.event.set()  # the flusher sends it if no later write does
        return len(s)

    def _due(self, now):
        """Whether pending text is old enough to be sent by the flusher."""
        if not self._buf:
            return False
        age = now - self._t0
        return age >= _PARTIAL_DELAY or (self._nl and age >= _LINE_DELAY)

    def flush(self):
        # the event is written under _blk: a concurrent flush (flusher thread) cannot let
        # a later event overtake this text
        with self._blk:
            if not self._buf:
                return
            text = "".join(self._buf)
            self._buf.clear()
            self._size = 0
            self._nl = False
            _emit_raw((self._pre + _enc_str(text) + "}\n").encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------- rich representations
_REPRS = (
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
    ("_repr_pdf_", "application/pdf"),
    ("_repr_latex_", "text/latex"),
    ("_repr_json_", "application/json"),
    ("_repr_javascript_", "application/javascript"),
)
_BINARY = {"image/png", "image/jpeg", "application/pdf"}


def _norm(mime, v):
    if isinstance(v, tuple):
        v = v[0]
    if isinstance(v, (bytes, bytearray)):
        if mime in _BINARY:
            return base64.b64encode(bytes(v)).decode("ascii")
        return bytes(v).decode("utf-8", "replace")
    if mime == "application/json" and isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _figure_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def mime_bundle(obj):
    bundle = {}
    if isinstance(obj, type):  # classes: only their repr
        return {"text/plain": repr(obj)}
    mb = getattr(obj, "_repr_mimebundle_", None)
    if callable(mb):
        try:
            r = mb(include=None, exclude=None)
            if isinstance(r, tuple):
                r = r[0]
            if isinstance(r, dict):
                for k, v in r.items():
                    bundle[k] = _norm(k, v)
        except Exception:
            pass
    for meth, mime in _REPRS:
        if mime in bundle:
            continue
        f = getattr(obj, meth, None)
        if not callable(f):
            continue
        try:
            v = f()
        except Exception:
            continue
        if v is not None:
            bundle[mime] = _norm(mime, v)
    mfig = sys.modules.get("matplotlib.figure")
    if mfig is not None and isinstance(obj, mfig.Figure) and "image/png" not in bundle:
        try:
            bundle["image/png"] = _figure_png(obj)
        except Exception:
            pass
    if "text/plain" not in bundle:
        try:
            bundle["text/plain"] = repr(obj)
        except Exception as e:  # a broken __repr__ must not kill the cell
            bundle["text/plain"] = "<repr failed: %r>" % (e,)
    return bundle


def display(*objs, raw=False, **_kw):
    """IPython-like display(): each object becomes a result with is_main_result false."""
    for o in objs:
        if raw and isinstance(o, dict):
            b = {k: _norm(k, v) for k, v in o.items()}
        else:
            b = mime_bundle(o)
        sys.stdout.flush()
        sys.stderr.flush()
        emit({"type": "result", "is_main_result": False, "bundle": b})


# ---------------------------------------------------------------- matplotlib integration
# MPLBACKEND=module://e2b_mpl_backend: this finder provides that module on demand, so
# matplotlib is never imported unless user code imports it.
class _MplBackendFinder:
    NAME = "e2b_mpl_backend"

    def find_spec(self, name, path=None, target=None):
        if name != self.NAME:
            return None
        import importlib.util
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        return None

    def exec_module(self, mod):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.backend_bases import FigureManagerBase

        mod.FigureCanvas = FigureCanvasAgg
        mod.FigureManager = FigureManagerBase

        def show(*args, **kwargs):
            flush_figures()

        mod.show = show


def flush_figures():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        nums = plt.get_fignums()
    except Exception:
        return
    for n in nums:
        fig = plt.figure(n)
        try:
            display(fig)
        finally:
            plt.close(fig)


# ---------------------------------------------------------------- execution
_ns = {"__name__": "__main__", "__builtins__": builtins, "display": display}
_count = 0
_loop = None
_ANSI_RED = "\x1b[0;31m"
_ANSI_RESET = "\x1b[0m"
_CO_COROUTINE = 0x80


def _format_error(etype, evalue, tb, cell_name):
    """A Jupyter-like traceback string that hides the kernel's own frames."""
    # the kernel itself runs from -c (filename "<string>"): hide those frames
    keep = [f for f in traceback.extract_tb(tb) if f.filename != "<string>"]
    lines = [_ANSI_RED + "-" * 75 + _ANSI_RESET,
             "%s%-42s%sTraceback (most recent call last)" % (_ANSI_RED, etype.__name__, _ANSI_RESET)]
    for f in keep:
        if f.filename.startswith("<cell-"):
            lines.append("Cell In[%s], line %d" % (f.filename[6:-1], f.lineno))
        else:
            lines.append("File %s:%d, in %s" % (f.filename, f.lineno, f.name))
        if f.line:
            lines.append("----> %d %s" % (f.lineno, f.line))
        lines.append("")
    lines.extend(traceback.format_exception_only(etype, evalue))
    return "\n".join(l.rstrip("\n") for l in lines)


def _apply_env(env):
    saved = {}
    if env:
        for k, v in env.items():
            k = str(k)
            saved[k] = os.environ.get(k)
            os.environ[k] = "" if v is None else str(v)
    return saved


def _restore_env(saved):
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _run_code(co):
    global _loop
    if co.co_flags & _CO_COROUTINE:
        if _loop is None:
            import asyncio
            _loop = asyncio.new_event_loop()
        return _loop.run_until_complete(eval(co, _ns))
    return eval(co, _ns)


def execute(code, env):
    global _count, _in_user, _pending_int
    _count += 1
    n = _count
    emit({"type": "number_of_executions", "execution_count": n})
    cell = "<cell-%d>" % n
    linecache.cache[cell] = (len(code), None, code.splitlines(True), cell)
    saved = _apply_env(env)
    value = None
    has_value = False
    try:
        _in_user = True
        try:
            if _pending_int:
                _pending_int = False
                raise KeyboardInterrupt
            tree = ast.parse(code, cell, "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr) and \
                    not code.rstrip().endswith(";"):
                last = tree.body.pop()
            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            if tree.body:
                _run_code(compile(tree, cell, "exec", flags=flags))
            if last is not None:
                expr = ast.Expression(last.value)
                ast.copy_location(expr, last)
                value = _run_code(compile(expr, cell, "eval", flags=flags))
                has_value = True
        finally:
            _in_user = False
        sys.stdout.flush()
        sys.stderr.flush()
        if has_value and value is not None:
            _ns["_"] = value
            emit({"type": "result", "is_main_result": True, "bundle": mime_bundle(value)})
    except BaseException as e:  # noqa: B902 - KeyboardInterrupt/SystemExit are cell errors too
        _in_user = False
        etype, evalue, tb = type(e), e, e.__traceback__
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        if isinstance(e, SyntaxError):
            tbtext = "".join(traceback.format_exception_only(etype, evalue)).rstrip("\n")
        else:
            tbtext = _format_error(etype, evalue, tb, cell)
        emit({"type": "error", "name": etype.__name__, "value": str(evalue),
              "traceback": tbtext})
    finally:
        _in_user = False
        _restore_env(saved)
    try:
        flush_figures()
    except Exception as e:
        emit({"type": "stderr", "text": "e2b: could not render figures: %r\n" % (e,)})
    sys.stdout.flush()
    sys.stderr.flush()


def _flush_all():
    for s in _flusher.streams:
        try:
            s.flush()
        except Exception:
            pass


def _flushing(fn):
    def wrapper(*args, **kwargs):
        _flush_all()
        return fn(*args, **kwargs)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def main():
    global _executing, _pending_int
    signal.signal(signal.SIGINT, _on_sigint)
    # protocol fds are not inherited by subprocesses (os.system('cmd &') must not hold them)
    os.set_inheritable(EV_FD, False)
    os.set_inheritable(REQ_FD, False)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.environ.setdefault("MPLBACKEND", "module://e2b_mpl_backend")
    sys.meta_path.insert(0, _MplBackendFinder())
    sys.stdout = OutStream("stdout", 1)
    sys.stderr = OutStream("stderr", 2)
    sys.stdin = io.StringIO("")
    sys.stdout._peer = sys.stderr
    sys.stderr._peer = sys.stdout
    _flusher.streams = [sys.stdout, sys.stderr]
    _flusher.start()
    # coalesced output must not be lost by os._exit / os.abort, nor duplicated by a fork
    os.register_at_fork(before=_flush_all)
    os._exit = _flushing(os._exit)
    os.abort = _flushing(os.abort)
    builtins.display = display
    sys.argv = [""]
    sys.path.insert(0, os.getcwd())
    req = os.fdopen(REQ_FD, "rb", buffering=0)
    reader = io.BufferedReader(req, 65536)
    emit({"type": "ready", "pid": os.getpid()})
    while True:
        try:
            line = reader.readline()
        except KeyboardInterrupt:
            continue
        if not line:
            break
        try:
            msg = json.loads(line)
            if isinstance(msg, dict) and isinstance(msg.get("set_env"), dict):
                # one-way (no answer): sandbox env vars of an adopted warm-pool kernel
                os.environ.update({str(k): str(v) for k, v in msg["set_env"].items()})
                continue
            code = msg.get("code")
            if not isinstance(code, str):
                raise ValueError("code must be a string")
            env = msg.get("env_vars") or None
            if env is not None and not isinstance(env, dict):
                raise ValueError("env_vars must be an object")
        except (ValueError, AttributeError) as e:
            emit({"type": "error", "name": "KernelProtocolError", "value": str(e), "traceback": ""})
            emit({"type": "end"})
            continue
        _executing = True
        try:
            execute(code, env)
        except KeyboardInterrupt:
            pass
        _executing = False
        _pending_int = False
        emit({"type": "end"})


main()
