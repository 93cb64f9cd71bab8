import LambdaCore
import Testing

@Suite struct DurationUnitsTests {
    @Test func wholeCountsRoundTowardZero() {
        let duration = Duration.seconds(2) + .nanoseconds(1_999_999)
        #expect(duration.wholeSeconds == 2)
        #expect(duration.wholeMilliseconds == 2_001)
        #expect(duration.wholeMicroseconds == 2_001_999)
        #expect(duration.wholeNanoseconds == 2_001_999_999)
    }

    @Test func negativeDurationsRoundTowardZeroToo() {
        #expect(Duration.milliseconds(-100).wholeMilliseconds == -100)
        #expect(Duration.milliseconds(-100).wholeSeconds == 0)
        #expect((Duration.zero - .nanoseconds(1_500)).wholeMicroseconds == -1)
    }

    @Test func wholeCountsSaturateInsteadOfTrapping() {
        let long = Duration.seconds(Int64.max)
        #expect(long.wholeNanoseconds == .max)
        #expect((Duration.zero - long).wholeNanoseconds == .min)
    }

    @Test func fractionalCountsKeepTheFraction() {
        let duration = Duration.milliseconds(1_234) + .microseconds(500)
        #expect(duration.fractionalSeconds == 1.2345)
        #expect(abs(duration.fractionalMilliseconds - 1_234.5) < 1e-9)
        #expect(abs(duration.fractionalMicroseconds - 1_234_500) < 1e-6)
        #expect(abs(Duration.nanoseconds(7).fractionalNanoseconds - 7) < 1e-9)
    }
}
