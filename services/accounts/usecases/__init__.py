"""The accounts use cases, one module per capability: plain Python over the store, the rules
and injected collaborators (`context.py`).

`bootstrap.build` wires them with the edge pieces the service (service.py) supplies: the
password hasher run off the event hub, the captcha renderer, the SMS budget gauges; the
service passes each call its request id. They take and return the contract's models. Nothing
here imports nameko or eventlet. Texts are not sent from here: a code's text is an outbox
event (notify sends it).
"""
