"""Test-only callback: hold the playbook at the start of one play until a file exists.

A fault test needs its fault to land before a given point of the run, however fast the run is. Plays start in the
controller's main process, one after the other, so waiting here holds the whole run between two plays:

    ANSIBLE_CALLBACK_PLUGINS=tests/reliability/callbacks ANSIBLE_CALLBACKS_ENABLED=hold_play
    KIALIOPS_TEST_HOLD_PLAY=<start of the play's name> KIALIOPS_TEST_HOLD_FILE=<path the test creates>

The hold ends when the file exists, or after KIALIOPS_TEST_HOLD_TIMEOUT seconds (300) with a warning, so a test
that forgot to release it fails on its assertions instead of hanging."""
from __future__ import annotations

import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "hold_play"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_play_start(self, play):
        prefix, flag = os.environ.get("KIALIOPS_TEST_HOLD_PLAY"), os.environ.get("KIALIOPS_TEST_HOLD_FILE")
        if not prefix or not flag or not play.get_name().startswith(prefix):
            return
        start = time.monotonic()
        deadline = start + float(os.environ.get("KIALIOPS_TEST_HOLD_TIMEOUT", "300"))
        while not os.path.exists(flag):
            if time.monotonic() >= deadline:
                self._display.warning("hold_play: %s never appeared; going on" % flag)
                return
            time.sleep(0.02)
        # the test checks this line: the hold was in place (the callback loaded and the play name matched)
        self._display.display("hold_play: held before %r for %.2f s" % (play.get_name(), time.monotonic() - start))
