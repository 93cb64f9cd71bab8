import LambdaCore
import Testing

@Suite struct WallClockTests {
    @Test func timestampsAreRFC3339WithMilliseconds() {
        #expect(WallClock.Instant(epochMilliseconds: 0).rfc3339 == "1970-01-01T00:00:00.000Z")
        #expect(WallClock.Instant(epochMilliseconds: 1_705_401_045_586).rfc3339 == "2024-01-16T10:30:45.586Z")
        #expect(WallClock.Instant(epochMilliseconds: 951_782_400_007).rfc3339 == "2000-02-29T00:00:00.007Z")
    }

    @Test func beforeTheEpochTheMillisecondsStayPositive() {
        #expect(WallClock.Instant(epochMilliseconds: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
    }

    @Test func nowIsAfterThisCodeWasWritten() {
        #expect(WallClock.now() > WallClock.Instant(epochMilliseconds: 1_764_547_200_000))
    }
}
