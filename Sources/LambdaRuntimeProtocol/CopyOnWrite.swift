/// A value kept in one object that every copy shares until one of them changes it (copy on write).
///
/// For a value the runtime copies on every invocation (an invocation's metadata, the function's):
/// copying a struct of several strings changes a reference count per string, twice (copy, destroy),
/// where a copy of this changes one.
package struct CopyOnWrite<Value: Sendable>: @unchecked Sendable {
    // Sendable: the object is only ever written through the one value that holds the only
    // reference to it (`value`'s modify copies it first otherwise), so a shared one is never written.
    @usableFromInline final class Box {
        @usableFromInline @exclusivity(unchecked) var value: Value
        @usableFromInline init(_ value: Value) { self.value = value }
    }

    @usableFromInline var box: Box

    /// Wraps `value`.
    @inlinable package init(_ value: Value) {
        box = Box(value)
    }

    /// The value; changing it first copies it out of an object another copy still shares.
    @inlinable package var value: Value {
        get { box.value }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.value) }
            yield &box.value
        }
    }

    /// Whether both share one object (and so hold the same value).
    @inlinable package func sharesStorage(with other: CopyOnWrite<Value>) -> Bool {
        box === other.box
    }
}

extension CopyOnWrite: Equatable where Value: Equatable {
    /// Equal values, the same object or not.
    @inlinable package static func == (lhs: CopyOnWrite, rhs: CopyOnWrite) -> Bool {
        lhs.sharesStorage(with: rhs) || lhs.value == rhs.value
    }
}
