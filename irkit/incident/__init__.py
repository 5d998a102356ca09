"""An incident's state: its id, its folder, its one journal, its run lock.

    ids.py      incident ids (generated, checked) and run ids
    paths.py    where an incident's files live (``<incidents>/<id>/``)
    journal.py  the append-only journal writer (one fsync'd JSON line per event)
    reader.py   the journal read back tolerantly (RCA, ``irkit incidents``)
    state.py    the journal read back strictly, for ``irkit run --resume``
    commands.py the runs of the commands run by hand, seen as one record each
    lock.py     one runbook run per incident at a time
    store.py    the ``IncidentStore`` port over all of it, and its file adapter

Every writer (``irkit run`` and the response commands ``isolate``, ``release``, ``scale``,
``restore``, ``collect``) appends run events (``irkit.model.journal.RunEvent``) to the one
journal of the incident, each run with its own run id.
"""
