import LambdaCore
import Testing

@Suite struct LambdaDeadlineTests {
    @Test func remainingTimeCountsDownToTheDeadline() {
        let deadline = LambdaDeadline(epochMilliseconds: 1_000_000)
        #expect(deadline.remainingTime(at: WallClock.Instant(epochMilliseconds: 997_500)) == .milliseconds(2500))
        #expect(deadline.remainingTime(at: WallClock.Instant(epochMilliseconds: 1_000_100)) == .milliseconds(-100))
    }

    @Test func aBudgetBecomesADeadlineAndCountsBackToItself() {
        let now = WallClock.Instant(epochMilliseconds: 1_700_000_000_000)
        let deadline = LambdaDeadline(after: .milliseconds(1500), from: now)
        #expect(deadline == LambdaDeadline(epochMilliseconds: 1_700_000_001_500))
        #expect(deadline.remainingTime(at: now) == .milliseconds(1500))
    }

    @Test func aMarginMovesTheDeadlineEarlier() {
        let deadline = LambdaDeadline(epochMilliseconds: 10_000) - .seconds(3)
        #expect(deadline == LambdaDeadline(epochMilliseconds: 7_000))
        #expect(LambdaDeadline(epochMilliseconds: 10_000) - .milliseconds(250) == LambdaDeadline(epochMilliseconds: 9_750))
    }

    @Test func deadlinesOrderByTime() {
        #expect(LambdaDeadline(epochMilliseconds: 1) < LambdaDeadline(epochMilliseconds: 2))
        #expect(!(LambdaDeadline(epochMilliseconds: 2) < LambdaDeadline(epochMilliseconds: 2)))
    }
}
