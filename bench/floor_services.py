"""The least a registration can cost in this architecture: three bare nameko services.

An HTTP entrypoint calls one RPC, whose handler dispatches one event that a third service
handles: the messages a registration needs (gateway -> accounts RPC, account_registered event
-> notify), with no database and none of the platform's own code. `/op` does only that;
`/op-hashed` also hashes the password the way the accounts service does (argon2id with the
platform's parameters, in an OS thread off the event hub). `bench.floor` measures both.
"""

from nameko.events import EventDispatcher, event_handler
from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http

from bench.baseline import PASSWORD, platform_hasher
from common.edge.dependencies import offload

HASHER = platform_hasher()


class FloorGateway:
    name = "floor_gateway"
    accounts = RpcProxy("floor_accounts")

    @http("POST", "/op")
    def op(self, request):
        return 201, self.accounts.register(request.get_data(as_text=True))

    @http("POST", "/op-hashed")
    def op_hashed(self, request):
        return 201, self.accounts.register_hashed(request.get_data(as_text=True))


class FloorAccounts:
    name = "floor_accounts"
    dispatch = EventDispatcher()

    @rpc
    def register(self, body):
        self.dispatch("registered", {"body": body})
        return '{"ok": true}'

    @rpc
    def register_hashed(self, body):
        offload(HASHER.hash, PASSWORD)
        return self.register(body)


class FloorNotify:
    name = "floor_notify"

    @event_handler("floor_accounts", "registered")
    def on_registered(self, payload):
        return None
