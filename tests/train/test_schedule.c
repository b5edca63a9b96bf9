/* Learning-rate schedules at known points: start, end of warm-up, middle,
 * end. One-cycle values are torch 1.13's OneCycleLR(max_lr=0.1,
 * total_steps=100, cycle_momentum=False) get_last_lr() at those steps. */
#include "../support.h"
#include "train/schedule.h"

#include <math.h>
#include <string.h>

#define M_PI_VALUE 3.14159265358979323846

static void lr_is(const clnet__schedule *s, uint64_t step, double want)
{
    /* 10 steps per epoch, 10 epochs: T = 100 steps. */
    float got = clnet__lr_at(s, 0.1f, step, 10, 10);
    ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want) + 1e-12,
                  "%s at step %llu: got %.9g, want %.9g",
                  clnet__schedule_name(s->kind), (unsigned long long)step, got, want);
}

START_TEST(constant)
{
    clnet__schedule s;
    clnet__schedule_defaults(&s, CLNET__SCHED_CONSTANT);
    lr_is(&s, 0, 0.1);
    lr_is(&s, 57, 0.1);
    lr_is(&s, 1000, 0.1);
}
END_TEST

START_TEST(step)
{
    clnet__schedule s;
    clnet__schedule_defaults(&s, CLNET__SCHED_STEP);
    s.step_epochs = 3, s.gamma = 0.5;
    lr_is(&s, 0, 0.1);
    lr_is(&s, 29, 0.1);   /* epoch 2 */
    lr_is(&s, 30, 0.05);  /* epoch 3: first decay */
    lr_is(&s, 65, 0.025); /* epoch 6 */
    lr_is(&s, 99, 0.0125);
}
END_TEST

START_TEST(cosine_with_warmup)
{
    clnet__schedule s;
    clnet__schedule_defaults(&s, CLNET__SCHED_COSINE);
    s.warmup_epochs = 1; /* W = 10 steps */
    lr_is(&s, 0, 0.01);  /* 0.1 * 1/10: the first step already moves */
    lr_is(&s, 4, 0.05);
    lr_is(&s, 9, 0.1);   /* warm-up ends at base */
    lr_is(&s, 10, 0.1);  /* cosine starts at base */
    lr_is(&s, 55, 0.05); /* p = 45/90 = 0.5 */
    lr_is(&s, 99, 0.05 * (1 + cos(M_PI_VALUE * 89.0 / 90.0)));
    lr_is(&s, 100, 0.0);
    lr_is(&s, 5000, 0.0); /* past the end: stays at min_lr */
    s.min_lr = 0.01;
    s.warmup_steps = 10, s.warmup_epochs = 0;
    lr_is(&s, 55, 0.055);
    lr_is(&s, 100, 0.01);
    s.warmup_steps = 0; /* no warm-up */
    lr_is(&s, 0, 0.1);
    lr_is(&s, 50, 0.055);
}
END_TEST

START_TEST(onecycle_matches_pytorch)
{
    clnet__schedule s;
    clnet__schedule_defaults(&s, CLNET__SCHED_ONECYCLE);
    lr_is(&s, 0, 0.0040000000000000036); /* max_lr / 25 */
    lr_is(&s, 1, 0.004281378056590748);
    lr_is(&s, 15, 0.05459866761210004);
    lr_is(&s, 29, 0.1);                  /* pct_start * 100 - 1 */
    lr_is(&s, 30, 0.09994965352845243);
    lr_is(&s, 50, 0.0793893450575732);
    lr_is(&s, 64, 0.0500002);            /* middle of the descent */
    lr_is(&s, 99, 4e-07);                /* max_lr / 25 / 1e4 */
    lr_is(&s, 150, 4e-07);               /* past the end: last value */
}
END_TEST

START_TEST(checks_and_names)
{
    clnet__schedule s;
    clnet__sched_kind k;
    ck_assert_int_eq(clnet__schedule_from_name("onecycle", &k), 0);
    ck_assert_int_eq(k, CLNET__SCHED_ONECYCLE);
    ck_assert_int_eq(clnet__schedule_from_name("linear", &k), -1);
    ck_assert_str_eq(clnet__schedule_name(CLNET__SCHED_COSINE), "cosine");

    clnet__schedule_defaults(&s, CLNET__SCHED_ONECYCLE);
    ck_assert_int_eq(clnet__schedule_check(NULL, &s, 10, 10), CLNET_OK);
    ck_assert_int_eq(clnet__schedule_check(NULL, &s, 1, 1), CLNET_EINVAL);
    s.pct_start = 1.0;
    ck_assert_int_eq(clnet__schedule_check(NULL, &s, 10, 10), CLNET_EINVAL);
    clnet__schedule_defaults(&s, CLNET__SCHED_STEP);
    s.gamma = 0;
    ck_assert_int_eq(clnet__schedule_check(NULL, &s, 10, 10), CLNET_EINVAL);
    clnet__schedule_defaults(&s, CLNET__SCHED_COSINE);
    s.warmup_epochs = 10;
    ck_assert_int_eq(clnet__schedule_check(NULL, &s, 10, 10), CLNET_EINVAL);
    s.warmup_epochs = 2;
    ck_assert_int_eq(clnet__schedule_check(NULL, &s, 10, 10), CLNET_OK);
    ck_assert_int_eq(clnet__schedule_check(NULL, &s, 0, 10), CLNET_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, constant);
    tcase_add_test(tc, step);
    tcase_add_test(tc, cosine_with_warmup);
    tcase_add_test(tc, onecycle_matches_pytorch);
    tcase_add_test(tc, checks_and_names);
    suite_add_tcase(s, tc);
    return clnet_test_run(s);
}
