"""`hooked-audio serve`: the probing page (`hooked_audio.serve`) on a local address.

The page is a Dash app; it is served here by Werkzeug's threaded server (Flask's own), on
127.0.0.1 unless `--host` says otherwise (the page runs the model for whoever reaches it).
`--port 0` takes a free port. The address is printed once the server listens.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hooked_audio.commands.arguments import add_model_argument, load_whisper_for, port_number


def add_serve_parser(sub) -> None:
    parser = sub.add_parser("serve", help="a local page for looking inside the model")
    add_model_argument(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=8050, help="0: any free port")
    parser.add_argument(
        "--sae", type=Path, default=None, help="an encoder SAE in SAELens's format (sae extra)"
    )


def make_server(model, host: str, port: int, sae=None):
    """The page's app served by Werkzeug (not started: call `serve_forever`)."""
    from werkzeug.serving import make_server as werkzeug_server

    from hooked_audio.serve.app import create_app

    return werkzeug_server(host, port, create_app(model, sae).server, threaded=True)


def run_serve_command(args: argparse.Namespace) -> int:
    try:
        import dash  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f'The page needs Dash ({error}): pip install -e ".[serve]" (or hooked-audio[serve]).'
        ) from error

    if args.sae is not None and not args.sae.is_dir():
        raise ValueError(f"--sae {str(args.sae)!r} is not a folder (an SAE in SAELens's format).")
    model = load_whisper_for("serve", args.model)
    sae = None
    if args.sae is not None:
        from hooked_audio.sae import load_sae

        sae = load_sae(args.sae, model)
    server = make_server(model, args.host, args.port, sae)
    print(
        f"hooked-audio serve: http://{args.host}:{server.server_port}/ (Ctrl+C stops)", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
