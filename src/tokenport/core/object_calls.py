"""Object management calls (PKCS #11 v2.40 s5.7) as a service over CoreState: create, copy,
destroy, size, attributes, and the FindObjects search over the token's indexes.

Every call runs under the state lock (objects, their index and the store are shared state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tokenport.attributes.kinds import AttrValue, Template
from tokenport.attributes.template import (
    check_modification,
    is_protected,
    read_error,
    template_dict,
)
from tokenport.ck import CKA, CKO, CKR
from tokenport.core import wrap_policy
from tokenport.core.access import ACCESS, check_write
from tokenport.core.info import AttributeResult
from tokenport.core.session import FindCursor, Session
from tokenport.core.state import CoreState
from tokenport.errors import (
    ActionProhibited,
    OperationActive,
    OperationNotInitialized,
)
from tokenport.objects.model import TokenObject
from tokenport.storage_format import encode_object


class ObjectCalls:
    """C_CreateObject .. C_FindObjectsFinal."""

    def __init__(self, state: CoreState) -> None:
        self._state = state

    def _add(self, session: Session, obj: TokenObject) -> int:
        check_write(session.state, obj.is_token, obj.is_private)
        if not obj.is_token:
            obj.owner_session = session.handle
        session.token.objects.add(obj)
        return self._state.handle(session.token, obj)

    def create_object(self, session: int, template: Template) -> int:
        """C_CreateObject (s5.7): a new object from a complete template."""
        with self._state.lock:
            current = self._state.session(session)
            obj = self._state.factory.create(template_dict(template), is_so=self._state.is_so(current))
            if obj.object_class == CKO.PRIVATE_KEY:  # a hardware key port imports it (TPM2_Import)
                from tokenport.mechanisms.hwkeys import adopt

                check_write(current.state, obj.is_token, obj.is_private)
                key_type = obj.attrs.get(CKA.KEY_TYPE)
                assert isinstance(key_type, int)
                adopt(self._state.mechanism_context(current.token), obj.object_class, key_type,
                      obj.attrs)
            return self._add(current, obj)

    def copy_object(self, session: int, handle: int, template: Template) -> int:
        """C_CopyObject (s5.7): a copy with the template's changes (CKA_COPYABLE honoured)."""
        with self._state.lock:
            current = self._state.session(session)
            source = self._state.object(current, handle)
            if source.attrs.get(CKA.COPYABLE) is False:
                raise ActionProhibited("the object is not copyable")
            changes = template_dict(template)
            self._check_usage_change(source, changes)
            values = current.token.clear_values(source) if source.sealed else dict(source.attrs)
            copy = self._state.factory.copy(values, source.schema, changes, is_so=self._state.is_so(current))
            return self._add(current, copy)

    def _check_usage_change(self, obj: TokenObject, changes: Mapping[int, AttrValue]) -> None:
        if not self._state.settings.allow_wrap_with_decrypt_key:
            wrap_policy.check_usage_change(obj, changes)

    def destroy_object(self, session: int, handle: int) -> None:
        """C_DestroyObject (s5.7)."""
        with self._state.lock:
            current = self._state.session(session)
            obj = self._state.object(current, handle)
            if obj.attrs.get(CKA.DESTROYABLE) is False:
                raise ActionProhibited("the object is not destroyable")
            check_write(current.state, obj.is_token, obj.is_private)
            current.token.objects.remove(obj)
            self._state.handles.forget(current.token.serial, obj.uid)

    def get_object_size(self, session: int, handle: int) -> int:
        """C_GetObjectSize (s5.7): the size of the object's stored record, in bytes."""
        with self._state.lock:
            obj = self._state.object(self._state.session(session), handle)
            return len(encode_object(obj.attrs, obj.sealed))

    def get_attribute_value(
        self, session: int, handle: int, types: Sequence[int]
    ) -> list[AttributeResult]:
        """C_GetAttributeValue (s5.7): one result per requested type, errors per attribute."""
        with self._state.lock:
            current = self._state.session(session)
            obj = self._state.object(current, handle)
            results = []
            for attr in types:
                attr = int(attr)
                present = obj.has(attr) or (  # a hardware-held key has its private values
                    obj.has(CKA.TOKENPORT_TPM_BLOB)  # (in the TPM): sensitive, as any
                    and attr in obj.schema.sensitive_attributes()  # sensitive key's
                )
                error = read_error(obj.schema, obj.attrs, attr, present)
                value: AttrValue | None = None
                if error == CKR.OK:
                    value = obj.attrs.get(attr)
                    if value is None:
                        value = current.token.unseal(obj, attr)
                results.append(AttributeResult(attr, value, error))
            return results

    def set_attribute_value(self, session: int, handle: int, template: Template) -> None:
        """C_SetAttributeValue (s5.7): modifiable attributes only; all or nothing."""
        with self._state.lock:
            current = self._state.session(session)
            obj = self._state.object(current, handle)
            changes = template_dict(template)
            check_write(current.state, obj.is_token, obj.is_private)
            check_modification(
                obj.schema, obj.attrs, changes, is_so=self._state.is_so(current), copying=False
            )
            self._check_usage_change(obj, changes)
            before_attrs, before_sealed = dict(obj.attrs), dict(obj.sealed)
            obj.attrs.update(changes)
            try:
                current.token.objects.update(obj, changes.keys())
            except BaseException:
                obj.attrs, obj.sealed = before_attrs, before_sealed
                current.token.objects.update_index(obj)
                raise

    def find_objects_init(self, session: int, template: Template) -> None:
        """C_FindObjectsInit (s5.7): snapshot the visible objects matching the template."""
        with self._state.lock:
            current = self._state.session(session)
            if current.found is not None:
                raise OperationActive("a search is already active")
            wanted = template_dict(template)
            self._state.tokens().refresh()
            see_private = ACCESS[current.state].see_private
            found = []
            for obj in current.token.objects.candidates(wanted):
                if obj.is_private and not see_private:
                    continue
                if self._matches(current, obj, wanted):
                    found.append(self._state.handle(current.token, obj))
            current.found = FindCursor(sorted(found))

    def _matches(self, session: Session, obj: TokenObject, wanted: Mapping[int, AttrValue]) -> bool:
        for attr, value in wanted.items():
            if not obj.has(attr) or obj.schema.rule(attr) is None:
                return False
            if is_protected(obj.schema, obj.attrs, attr):
                return False
            actual = obj.attrs.get(attr)
            if actual is None:
                actual = session.token.unseal(obj, attr)
            if actual != value:
                return False
        return True

    def find_objects(self, session: int, max_count: int) -> list[int]:
        """C_FindObjects (s5.7): up to ``max_count`` more handles of the active search."""
        current = self._state.session(session)
        found = current.found
        if found is None:
            raise OperationNotInitialized("no active search")
        return found.take(max_count)

    def find_objects_final(self, session: int) -> None:
        """C_FindObjectsFinal (s5.7)."""
        with self._state.lock:
            current = self._state.session(session)
            if current.found is None:
                raise OperationNotInitialized("no active search")
            current.found = None
