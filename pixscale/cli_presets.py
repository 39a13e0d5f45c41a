"""The command line's side of :mod:`pixscale.presets`: ``--preset NAME`` and ``--list-presets``.

A preset is only defaults: :func:`parse_args` parses the command line once,
and when it names a preset, sets the preset's values as the defaults of the
subcommand's parser and parses again, so every flag given explicitly still
wins, wherever it stands on the line.
"""

import argparse
import sys

from . import presets

_PARSER = "_preset_parser"  # where --preset leaves the subcommand's parser, for parse_args (removed there)


class _Preset(argparse.Action):
    """``--preset NAME``: the name, and the parser it was given to (whose defaults the preset becomes)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        setattr(namespace, _PARSER, parser)


class _ListPresets(argparse.Action):
    """``--list-presets``: print the table of presets on standard output (it is data) and exit."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(presets.format_table() + "\n")
        parser.exit()


def add_list_presets(parser):
    """Add ``--list-presets`` to ``parser`` (an argument parser or group)."""
    parser.add_argument(
        "--list-presets",
        action=_ListPresets,
        help="print the presets for model inputs (name, canvas, background, target, description) and exit",
    )


def add_preset_arguments(group):
    """Add ``--preset NAME`` and ``--list-presets`` to a subcommand's options."""
    group.add_argument(
        "--preset",
        action=_Preset,
        choices=presets.names(),
        default=None,
        metavar="NAME",
        help="defaults for a model's input: its canvas (--output-size), background and target, e.g. triposr, "
        "instantmesh, lgm, facelift-gslrm (see --list-presets); every flag given explicitly wins",
    )
    add_list_presets(group)


def parse_args(parser, argv=None):
    """``parser.parse_args(argv)``, with the defaults of the ``--preset`` named, if any, under the explicit flags."""
    args = parser.parse_args(argv)
    sub = vars(args).pop(_PARSER, None)
    if sub is None:
        return args
    sub.set_defaults(**presets.get(args.preset).run_keywords())
    args = parser.parse_args(argv)
    vars(args).pop(_PARSER, None)
    return args
