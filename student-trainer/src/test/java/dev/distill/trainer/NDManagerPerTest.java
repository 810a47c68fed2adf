package dev.distill.trainer;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * A fresh {@link NDManager} for every test method, closed after it (so arrays never outlive their
 * test): the lifecycle the array-level tests share. A subclass that needs a seeded engine seeds it
 * in its own {@code @BeforeEach}, which JUnit runs after this one.
 */
public abstract class NDManagerPerTest {
  protected NDManager manager;

  @BeforeEach
  void openManager() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void closeManager() {
    manager.close();
  }
}
