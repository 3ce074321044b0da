"""``akhbar serve``: packaged models behind an HTTP service, a web page and Label Studio's ML-backend routes.

    akhbar serve --ner models/ner-anercorp --events models/events-gsr --port 8000

The models load and are verified once (:mod:`akhbar.serve.models`); concurrent requests are gathered into
shared model calls (:mod:`akhbar.serve.batcher`); :mod:`akhbar.serve.app` holds the routes, the request
limits and the JSON errors; :mod:`akhbar.serve.label_studio` the ML backend. Needs the ``serve`` extra
(FastAPI, uvicorn); this package calls :mod:`akhbar.inference` and nothing else of akhbar's but the Label
Studio predictions writer of :mod:`akhbar.formats`.
"""

INSTALL_SERVE = 'pip install "akhbar[serve]"'
