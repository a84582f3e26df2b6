"""Action plugin behind sentinel.dashboard.warn: an Ansible warning from a task."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


class ActionModule(ActionBase):
    """Print msg as a [WARNING] line on the controller; the host is never touched."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        _, args = self.validate_argument_spec(
            argument_spec={"msg": {"type": "str", "required": True}},
        )
        result = super().run(tmp, task_vars)
        message = " ".join(args["msg"].split())
        display.warning(message)
        result.update(changed=False, msg=message)
        return result
