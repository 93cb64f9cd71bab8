#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import FakeRuntimeAPI
@testable import LambdaRuntime
import Testing

/// The entries in `environ`, and the array itself.
private func environment() -> (array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, count: Int) {
    let array = environ
    var count = 0
    while array[count] != nil { count += 1 }
    return (array, count)
}

private func traceVariable() -> String? {
    getenv(TraceEnvironment.variable).map { String(cString: $0) }
}

/// A trace header of Lambda's shape, different for every `n`.
private func traceID(_ n: Int) -> String {
    let hex = String(n, radix: 16)
    let padded = String(repeating: "0", count: max(0, 24 - hex.count)) + hex
    return "Root=1-69295680-\(padded);Parent=\(padded.suffix(16));Sampled=1;Lineage=1:a87bd80c:0"
}

extension RuntimeLoopTests {
    /// `_X_AMZN_TRACE_ID` without `setenv` (issue 11). Nested in `RuntimeLoopTests` to run serialized
    /// with the loop's tests: both change this process's environment.
    @Suite struct TraceEnvironmentTests {
        @Test func showsTheTraceIDAndNothingWhenAbsent() {
            var trace = TraceEnvironment()
            trace.set(traceID(1))
            #expect(traceVariable() == traceID(1))
            trace.set(nil)
            #expect(traceVariable() == nil)
            trace.set(traceID(2))
            #expect(traceVariable() == traceID(2))
            trace.set("")
            #expect(traceVariable() == "")
        }

        @Test func replacesAValueSetBeforeAndRemovesIt() {
            setenv(TraceEnvironment.variable, "stale-from-init", 1)
            var trace = TraceEnvironment()
            trace.set(traceID(3))
            #expect(traceVariable() == traceID(3))
            let owned = trace.ownsEnvironmentEntry
            #expect(owned)
            trace.set(nil)
            #expect(traceVariable() == nil)
        }

        /// The property issue 11 is about: whatever the ids, the environment only ever points into
        /// the two runtime-owned buffers, the buffers stay where they are, and `environ` keeps its
        /// array and its number of entries: nothing was copied, nothing grew.
        @Test func repeatedSetAndRemoveNeitherCopiesNorGrows() {
            var trace = TraceEnvironment()
            // Once in, once out, once in: glibc has made its own `environ` array by now.
            trace.set(traceID(0))
            trace.set(nil)
            trace.set(traceID(0))
            let before = environment()
            let buffers = [trace.installed.entry, trace.spare.entry]
            var seen: Set<UnsafeMutablePointer<CChar>> = []
            var mismatches = 0
            for n in 1...20_000 {
                if n % 3 == 0 {
                    trace.set(nil)
                    if getenv(TraceEnvironment.variable) != nil { mismatches += 1 }
                    #expect(environment().count == before.count - 1)
                    continue
                }
                let id = traceID(n)
                trace.set(id)
                guard let value = getenv(TraceEnvironment.variable) else {
                    mismatches += 1
                    continue
                }
                seen.insert(value)
                if String(cString: value) != id { mismatches += 1 }
            }
            #expect(mismatches == 0)
            #expect(seen == [buffers[0] + TraceEnvironment.variable.utf8.count + 1,
                             buffers[1] + TraceEnvironment.variable.utf8.count + 1])
            let buffersAfter = Set([trace.installed.entry, trace.spare.entry])
            #expect(buffersAfter == Set(buffers))
            let after = environment()
            #expect(after.array == before.array)
            #expect(after.count == before.count)
        }

        @Test func anIDLongerThanTheBuffersIsStoredWholeAndGrowsEachBufferOnce() {
            var trace = TraceEnvironment(valueCapacity: 32)
            let long = traceID(7) + String(repeating: ";Custom=x", count: 20)
            trace.set(long)
            #expect(traceVariable() == long)
            trace.set(long + "2")
            #expect(traceVariable() == long + "2")
            let grown = [trace.installed.entry, trace.spare.entry]
            let capacity = trace.installed.valueCapacity
            #expect(capacity == TraceEnvironment.capacity(toFit: long.utf8.count + 1))
            for n in 0..<100 {
                trace.set(n % 2 == 0 ? long : traceID(n))
                #expect(traceVariable() == (n % 2 == 0 ? long : traceID(n)))
            }
            let buffersAfter = Set([trace.installed.entry, trace.spare.entry])
            #expect(buffersAfter == Set(grown))
        }

        @Test func capacityIsTheNextPowerOfTwo() {
            #expect(TraceEnvironment.capacity(toFit: 1) == 1)
            #expect(TraceEnvironment.capacity(toFit: 100) == 128)
            #expect(TraceEnvironment.capacity(toFit: 8192) == 8192)
            #expect(TraceEnvironment.capacity(toFit: 8193) == 16_384)
            #expect(TraceEnvironment.defaultValueCapacity == 8192)
        }

        @Test func endingRemovesItsOwnEntryButNotSomeoneElses() {
            do {
                var trace = TraceEnvironment()
                trace.set(traceID(4))
            }
            #expect(traceVariable() == nil)
            do {
                var trace = TraceEnvironment()
                trace.set(traceID(5))
                setenv(TraceEnvironment.variable, "set-by-the-handler", 1)
                let owned = trace.ownsEnvironmentEntry
                #expect(!owned)
            }
            #expect(traceVariable() == "set-by-the-handler")
            unsetenv(TraceEnvironment.variable)
        }

        /// An id that stays the same is left where it is (no `putenv`), an absent one that stays absent
        /// is not removed again (no `unsetenv`), and still whatever someone else set in between is
        /// overruled: the environment always reads the invocation's id, or nothing.
        @Test func aRepeatedIDOrAbsenceLeavesTheEnvironmentButNotSomeoneElsesValue() {
            var trace = TraceEnvironment()
            trace.set(traceID(8))
            let first = getenv(TraceEnvironment.variable)
            trace.set(traceID(8))
            #expect(getenv(TraceEnvironment.variable) == first, "the same id stays in the same buffer")
            #expect(traceVariable() == traceID(8))
            trace.set(traceID(8) + "0")
            #expect(traceVariable() == traceID(8) + "0", "a longer id with the same start is another id")
            trace.set(traceID(8))
            #expect(traceVariable() == traceID(8), "and back")
            trace.set(String(traceID(8).dropLast()))
            #expect(traceVariable() == String(traceID(8).dropLast()), "a shorter one too")
            setenv(TraceEnvironment.variable, "set-by-the-handler", 1)
            trace.set(String(traceID(8).dropLast()))
            #expect(traceVariable() == String(traceID(8).dropLast()), "the same id again replaces another's value")
            unsetenv(TraceEnvironment.variable)
            trace.set(String(traceID(8).dropLast()))
            #expect(traceVariable() == String(traceID(8).dropLast()), "and puts back a removed one")
            let owned = trace.ownsEnvironmentEntry
            #expect(owned)
            trace.set(nil)
            #expect(traceVariable() == nil)
            trace.set(nil)
            #expect(traceVariable() == nil)
            setenv(TraceEnvironment.variable, "set-by-the-handler", 1)
            trace.set(nil)
            #expect(traceVariable() == nil, "no id removes another's value")
            trace.set("")
            #expect(traceVariable() == "")
            trace.set("")
            #expect(traceVariable() == "")
            trace.set(nil)
            #expect(traceVariable() == nil)
        }

        /// Through the loop, with ids that repeat and absences that repeat: each handler still reads
        /// its own invocation's id in `_X_AMZN_TRACE_ID`, or none.
        @Test func handlersSeeTheirIDWhenItRepeatsOrStaysAbsent() async throws {
            let server = try FakeRuntimeAPI(recordBodies: false)
            defer { server.stop() }
            let ids: [String?] = [traceID(1), traceID(1), nil, nil, traceID(2), traceID(2), traceID(1), nil, traceID(3), traceID(3)]
            for (n, id) in ids.enumerated() {
                server.enqueue(.init(requestID: "r\(n)", body: [], headers: id.map { [("Lambda-Runtime-Trace-Id", $0)] } ?? []))
            }
            let seen = Recorder<String?>()
            let exit = try await runLoop(against: server) { _ in
                ClosureHandler { event, context in
                    seen.append(getenv(TraceEnvironment.variable).map { String(cString: $0) })
                    // A handler that changes the variable does not change what the next one reads.
                    if ["r1", "r3", "r6"].contains(context.requestID) {
                        setenv(TraceEnvironment.variable, "set-by-the-handler", 1)
                    }
                    return event
                }
            }
            #expect(isFinished(exit))
            #expect(seen.all == ids)
            unsetenv(TraceEnvironment.variable)
        }

        /// Through the loop: a handler reading the environment sees its own invocation's id, or none,
        /// and every id it sees lives in the same two buffers.
        @Test func handlersSeeTheirInvocationsIDFromTwoBuffers() async throws {
            let server = try FakeRuntimeAPI(recordBodies: false)
            defer { server.stop() }
            var expected: [String?] = []
            for n in 0..<300 {
                let id: String? = n % 5 == 4 ? nil : traceID(1000 + n)
                expected.append(id)
                server.enqueue(.init(requestID: "r\(n)", body: [], headers: id.map { [("Lambda-Runtime-Trace-Id", $0)] } ?? []))
            }
            let seen = Recorder<(context: String?, environment: String?, address: Int?)>()
            let exit = try await runLoop(against: server) { _ in
                ClosureHandler { event, context in
                    let value = getenv(TraceEnvironment.variable)
                    seen.append((context.traceID, value.map { String(cString: $0) }, value.map { Int(bitPattern: $0) }))
                    return event
                }
            }
            #expect(isFinished(exit))
            #expect(seen.all.map(\.environment) == expected)
            #expect(seen.all.map(\.context) == expected)
            #expect(Set(seen.all.compactMap(\.address)).count == 2)
            #expect(traceVariable() == nil)
        }
    }
}
