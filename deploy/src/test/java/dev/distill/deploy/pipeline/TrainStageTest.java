package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** {@link TrainStage#concurrently}: a workload's students at the same time, one thread each. */
class TrainStageTest {
  @Test
  void jobsRunAtTheSameTimeOnASplitOfTheEngineThreadsAndTheCallersCountComesBack()
      throws Exception {
    assertThat(Engine.getInstance().getEngineName()).isEqualTo("PyTorch");
    int before = JniUtils.getNumThreads();
    JniUtils.setNumThreads(2);
    try {
      // each job waits for the other to have started: run one after the other, both time out
      CountDownLatch started = new CountDownLatch(2);
      Map<String, Integer> threadsSeen = new ConcurrentHashMap<>();
      Map<String, TrainStage.Job> jobs = new LinkedHashMap<>();
      for (String name : new String[] {"kd-student", "hard-label-student"}) {
        jobs.put(
            name,
            () -> {
              threadsSeen.put(name, JniUtils.getNumThreads());
              started.countDown();
              try {
                if (!started.await(20, TimeUnit.SECONDS)) {
                  throw new IOException(name + " ran alone");
                }
              } catch (InterruptedException e) {
                throw new IOException(e);
              }
              // 0.2 CPU seconds on this thread (not wall time: the machine may be shared)
              java.lang.management.ThreadMXBean cpu =
                  java.lang.management.ManagementFactory.getThreadMXBean();
              long until = cpu.getCurrentThreadCpuTime() + 200_000_000L;
              while (cpu.getCurrentThreadCpuTime() < until) {
                Thread.onSpinWait();
              }
            });
      }
      StageClock clock =
          new StageClock(
              new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

      clock.time(
          "students",
          r -> {
            TrainStage.concurrently(jobs, r);
            return null;
          });

      assertThat(threadsSeen)
          .containsOnly(Map.entry("kd-student", 1), Map.entry("hard-label-student", 1));
      assertThat(JniUtils.getNumThreads()).isEqualTo(2);
      StageClock.StageTime t = clock.times().get(0);
      assertThat(t.parts().keySet()).containsExactly("kd-student", "hard-label-student");
      assertThat(t.parts().values()).allSatisfy(cpu -> assertThat(cpu).isBetween(0.2, 5.0));
    } finally {
      JniUtils.setNumThreads(before);
    }
  }

  @Test
  void aFailingJobFailsTheCallWithItsOwnErrorOnceTheOtherJobHasEnded() {
    AtomicBoolean otherEnded = new AtomicBoolean();
    Map<String, TrainStage.Job> jobs = new LinkedHashMap<>();
    jobs.put(
        "broken",
        () -> {
          throw new IOException("curated/train: not a Parquet file");
        });
    jobs.put(
        "fine",
        () -> {
          try {
            Thread.sleep(200);
          } catch (InterruptedException e) {
            throw new IOException(e);
          }
          otherEnded.set(true);
        });

    assertThatThrownBy(() -> TrainStage.concurrently(jobs, null))
        .isInstanceOf(IOException.class)
        .hasMessage("curated/train: not a Parquet file");
    assertThat(otherEnded).isTrue();
  }
}
