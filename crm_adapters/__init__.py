"""CRM adapters: one interface (``interfaces.CRMAdapter``), one adapter per vendor (``factory.build_adapter``)."""
