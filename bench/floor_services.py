"""The least a registration can cost in this architecture: three bare nameko services.

An HTTP entrypoint calls one RPC, whose handler dispatches one event that a third service
handles: the messages a registration needs (gateway -> accounts RPC, account_registered event
-> notify), with no database, no hashing and none of the platform's own code. `bench.floor`
measures what these cost on this machine.
"""

from nameko.events import EventDispatcher, event_handler
from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http


class FloorGateway:
    name = "floor_gateway"
    accounts = RpcProxy("floor_accounts")

    @http("POST", "/op")
    def op(self, request):
        return 201, self.accounts.register(request.get_data(as_text=True))


class FloorAccounts:
    name = "floor_accounts"
    dispatch = EventDispatcher()

    @rpc
    def register(self, body):
        self.dispatch("registered", {"body": body})
        return '{"ok": true}'


class FloorNotify:
    name = "floor_notify"

    @event_handler("floor_accounts", "registered")
    def on_registered(self, payload):
        return None
