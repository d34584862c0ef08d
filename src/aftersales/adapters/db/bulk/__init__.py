"""The import's batched writes (`aftersales import` only): a store that collects a batch in
memory and writes it in one transaction (COPY on PostgreSQL). Nothing else uses it; every
other command goes through adapters/db/uow.py."""
